"""Realtime delivery of the event log (WebSocket, SSE, long-poll)."""
