/* The page's configuration, as the server built it (support/console.py):
   where the API lives, the limits, who is signed in, the translated strings,
   and the protocol's values (event types, close codes, sender names), so
   none of them is copied into the script by hand. */

export const config = JSON.parse(document.getElementById("support-console-config").textContent);
export const S = config.strings;
export const me = config.me;
export const protocol = config.protocol;
export const EVENTS = protocol.events;
export const SENDER = protocol.senders;

/** "%(name)s" placeholders filled from *values* (the server's gettext style). */
export function fmt(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
}

/** An element with a class and a text, never markup. */
export function node(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}
