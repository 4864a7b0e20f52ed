"""``python -m support_client.telegram``: the support bot on its own, set from the environment."""

from support_client.telegram.app import configure_logging, main

if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())
