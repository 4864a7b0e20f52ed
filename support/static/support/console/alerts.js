/* Alerts a manager notices: a new ticket, or a new message from the user on
   one of my tickets, plays a short tone (made with WebAudio: no sound file)
   and, while the page is in the background, shows a desktop notification;
   the tab's title carries the count of what came while the page was hidden.

   The browser is asked for the notification permission only when the
   manager clicks the Alerts toggle, never on load; the toggle (on by
   default) is kept per manager in localStorage. */

import { S, fmt } from "./config.js";
import { userName } from "./views.js";

export class Alerts {
  constructor(store, { me, onOpen }) {
    this.store = store;
    this.me = me;
    this.onOpen = onOpen; // opens a ticket from a notification's click
    this.audio = null;
  }

  /** Whether the browser would still ask for the notification permission. */
  static askable() {
    return "Notification" in window && Notification.permission === "default";
  }

  /**
   * The toggle was clicked (a user gesture: the only time the browser is asked).
   * Alerts are on by default; while the browser has not been asked yet, a click
   * asks it and leaves them on, after that a click turns them off or on.
   */
  toggle() {
    this.unlockAudio();
    if (this.store.alertsOn && Alerts.askable()) {
      Notification.requestPermission().then(() => this.store.changed("alerts"), () => {});
      return;
    }
    const on = !this.store.alertsOn;
    this.store.setAlerts(on);
    if (on && Alerts.askable()) Notification.requestPermission().then(() => this.store.changed("alerts"), () => {});
  }

  /** Browsers start an AudioContext only after a gesture: make it on the first click. */
  unlockAudio() {
    if (this.audio || typeof window.AudioContext !== "function") return;
    try {
      this.audio = new AudioContext();
    } catch (error) {
      this.audio = null;
    }
  }

  hidden() {
    return document.visibilityState !== "visible";
  }

  /** The page came back to the front: the title's count goes. */
  visible() {
    if (!this.hidden()) this.store.clearUnseen();
  }

  /** What the store says an event deserves: {kind: "ticket" | "message", ticket, message}. */
  consider(alert) {
    if (!alert) return;
    const { kind, ticket, message } = alert;
    if (kind === "message") {
      const mine = ticket && ticket.support_manager && ticket.support_manager.id === this.me.id;
      if (!mine) return;
    }
    const open = this.store.thread && ticket && this.store.thread.id === ticket.id;
    if (!this.hidden() && open && kind === "message") return; // it is on the screen
    if (this.hidden()) this.store.addUnseen(kind === "ticket" ? `t:${ticket.id}` : `m:${message.id}`);
    if (!this.store.alertsOn) return;
    this.tone();
    if (this.hidden()) this.notify(kind, ticket, message);
  }

  /** Two short notes, soft at both ends. */
  tone() {
    const audio = this.audio;
    if (!audio) return;
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const start = audio.currentTime + 0.01;
    for (const [offset, frequency] of [[0, 880], [0.14, 1320]]) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(start + offset);
      oscillator.stop(start + offset + 0.2);
    }
  }

  notify(kind, ticket, message) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const who = ticket && ticket.user ? userName(ticket.user) : "";
    const title = kind === "ticket"
      ? fmt(S.alert_new_ticket, { name: who || S.user })
      : fmt(S.alert_new_message, { name: who || S.user });
    const body = kind === "ticket" ? ticket.title : (message.text || S.alert_attachment);
    try {
      const notification = new Notification(title, { body, tag: `support-${kind}-${ticket ? ticket.id : ""}` });
      notification.onclick = () => {
        window.focus();
        if (ticket) this.onOpen(ticket.id);
        notification.close();
      };
    } catch (error) {
      /* a browser that only notifies from a service worker: the title count still says it */
    }
  }
}
