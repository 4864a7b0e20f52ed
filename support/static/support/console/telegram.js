/* "Link Telegram": a manager links their Telegram account to the staff group's bot.

   The dialog shows the link (GET telegram/link/) with an Unlink button, or
   gets a one-time code (POST telegram/link/) and shows it with its expiry
   counting down and what to do with it: send "/link CODE" to the bot in a
   private chat. While a code is shown, the link is read again every few
   seconds, so the dialog says "linked" as soon as the bot confirms it. */
import { Api } from "./api.js";
import { S, config, fmt } from "./config.js";

const api = new Api(config.api);
const POLL_MS = 3000;

const $ = (selector) => document.querySelector(selector);
const el = {
  open: $("#telegram-open"),
  dialog: $("#telegram-link"),
  status: $("#telegram-link .telegram-status"),
  codeBox: $("#telegram-link .telegram-code"),
  code: $("#telegram-link .telegram-code code"),
  instructions: $("#telegram-link .telegram-instructions"),
  expiry: $("#telegram-link .telegram-expiry"),
  getCode: $("#telegram-link [data-telegram=code]"),
  unlink: $("#telegram-link [data-telegram=unlink]"),
  error: $("#telegram-link .error"),
};

let code = null; // {code, expires: Date} while one is shown
let timer = null;
let poll = null;

function showError(error) {
  el.error.textContent = error ? (error.detail || S.server_error) : "";
  el.error.hidden = !error;
}

function stopTimers() {
  clearInterval(timer);
  clearInterval(poll);
  timer = poll = null;
}

function renderLink(link) {
  const linked = link && link.telegram_id !== null;
  el.open.textContent = linked ? S.telegram_linked : S.telegram_link;
  if (linked) {
    code = null;
    stopTimers();
    const since = new Date(link.linked_at).toLocaleString(document.documentElement.lang || undefined);
    el.status.textContent = fmt(S.telegram_linked_as, { id: link.telegram_id, date: since });
  } else if (!code) {
    el.status.textContent = S.telegram_not_linked;
  }
  el.unlink.hidden = !linked;
  el.getCode.hidden = linked;
  el.codeBox.hidden = linked || !code;
}

function renderExpiry() {
  if (!code) return;
  const left = Math.max(0, Math.round((code.expires - Date.now()) / 1000));
  if (left === 0) {
    stopTimers();
    code = null;
    el.codeBox.hidden = true;
    el.status.textContent = S.telegram_expired;
    el.getCode.textContent = S.telegram_new_code;
    return;
  }
  const time = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  el.expiry.textContent = fmt(S.telegram_expires_in, { time });
}

async function refresh() {
  try {
    renderLink((await api.get("telegram/link/")).data);
    showError(null);
  } catch (error) {
    showError(error);
  }
}

async function getCode() {
  el.getCode.disabled = true;
  try {
    const { data } = await api.post("telegram/link/", {});
    code = { code: data.code, expires: new Date(data.expires_at) };
    el.code.textContent = data.code;
    el.instructions.textContent = fmt(S.telegram_instructions, { code: data.code });
    el.status.textContent = S.telegram_not_linked;
    el.codeBox.hidden = false;
    el.getCode.textContent = S.telegram_new_code;
    showError(null);
    stopTimers();
    renderExpiry();
    timer = setInterval(renderExpiry, 1000);
    poll = setInterval(refresh, POLL_MS);
  } catch (error) {
    showError(error);
  } finally {
    el.getCode.disabled = false;
  }
}

async function unlink() {
  el.unlink.disabled = true;
  try {
    await api.request("DELETE", "telegram/link/");
    code = null;
    el.getCode.textContent = S.telegram_get_code;
    renderLink({ telegram_id: null, linked_at: null });
    showError(null);
  } catch (error) {
    showError(error);
  } finally {
    el.unlink.disabled = false;
  }
}

function start() {
  el.open.addEventListener("click", () => {
    el.dialog.showModal();
    refresh();
  });
  el.dialog.addEventListener("close", stopTimers);
  el.getCode.addEventListener("click", getCode);
  el.unlink.addEventListener("click", unlink);
  refresh(); // the header says whether the account is linked
}

if (el.open && el.dialog) start();

