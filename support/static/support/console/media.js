/* Attachments as the console shows them: a message's photos, players for
   voice, audio and video, other files as a chip to download; what a message
   holds in words (the queue's preview); sizes; the full-size viewer.

   Everything that comes from the server goes into the page as text or as
   attribute values (a URL, a file name), never as markup. */
import { fmt, node } from "./config.js";

/** Types a browser shows in an <img> (the server serves only these inline as images). */
export const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const VISUAL_KINDS = ["photo", "sticker", "animation"];
/** The box (CSS pixels) a picture fits in: one alone, several side by side, a sticker. */
const BOX = { single: 320, several: 180, sticker: 160, video: 360 };

export class Media {
  /** strings: the page's translated strings; lang: the page's language. */
  constructor(strings, lang) {
    this.S = strings;
    const unit = (name, digits) => new Intl.NumberFormat(lang, {
      style: "unit", unit: name, unitDisplay: "short", maximumFractionDigits: digits,
    });
    this.units = [unit("byte", 0), unit("kilobyte", 0), unit("megabyte", 1)];
    this.viewer = null;
  }

  /** 2,048 bytes as "2 kB", 5,452,595 as "5.2 MB", in the page's language. */
  size(bytes) {
    const [b, kb, mb] = this.units;
    if (bytes < 1024) return b.format(bytes);
    if (bytes < 1024 * 1024) return kb.format(Math.max(1, Math.round(bytes / 1024)));
    return mb.format(bytes / (1024 * 1024));
  }

  /** One attachment in words: "Photo", "Voice message", "Document: invoice.pdf". */
  label(attachment) {
    const S = this.S;
    if (attachment.kind === "audio") return fmt(S.audio_named, { name: attachment.filename });
    if (attachment.kind !== "document" && S[attachment.kind]) return S[attachment.kind];
    return fmt(S.document_named, { name: attachment.filename });
  }

  /** What a message holds, for the queue: its attachments in words, then its text. */
  preview(message) {
    const attachments = message.attachments || [];
    let summary = "";
    if (attachments.length === 1) summary = this.label(attachments[0]);
    else if (attachments.length && attachments.every((a) => a.kind === "photo")) {
      summary = fmt(this.S.photos_count, { count: attachments.length });
    } else if (attachments.length) {
      summary = fmt(this.S.attachments_count, { count: attachments.length });
    }
    return [summary, message.text].filter(Boolean).join(" · ");
  }

  /** The element showing *attachment* in a message (several: one of a few pictures). */
  render(attachment, several) {
    const type = attachment.content_type || "";
    const asFile = attachment.kind === "document";
    let element;
    if (!asFile && IMAGE_TYPES.includes(type) && VISUAL_KINDS.includes(attachment.kind)) {
      element = this.picture(attachment, several);
    } else if (!asFile && type.startsWith("video/")) {
      element = this.video(attachment);
    } else if (!asFile && type.startsWith("audio/")) {
      element = this.audio(attachment);
    } else {
      element = this.file(attachment);
    }
    element.dataset.attachmentId = attachment.id;
    element.dataset.kind = attachment.kind;
    return element;
  }

  picture(attachment, several) {
    const sticker = attachment.kind === "sticker";
    const box = sticker ? BOX.sticker : several ? BOX.several : BOX.single;
    const link = node("a", "att-picture" + (sticker ? " sticker" : ""));
    link.href = attachment.url;
    link.title = fmt(this.S.open_full_size, { name: attachment.filename });
    const image = document.createElement("img");
    // A GIF moves only as itself; any other picture shows its small thumbnail.
    const animated = attachment.kind === "animation";
    image.src = (!animated && attachment.thumbnail_url) || attachment.url;
    image.alt = this.label(attachment);
    image.decoding = "async";
    const [width, height] = fit(attachment.width, attachment.height, box);
    image.width = width;
    image.height = height;
    link.append(image);
    link.addEventListener("click", (event) => {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      this.open(attachment);
    });
    return link;
  }

  video(attachment) {
    const figure = node("figure", "att-video");
    const video = document.createElement("video");
    const looping = attachment.kind !== "video"; // an animation, a video sticker
    if (looping) {
      video.muted = true;
      video.loop = true;
      video.autoplay = true;
      video.playsInline = true;
    } else {
      video.controls = true;
    }
    video.preload = "metadata";
    video.src = attachment.url;
    const [width, height] = fit(attachment.width, attachment.height, BOX.video);
    video.width = width;
    video.height = height;
    video.setAttribute("aria-label", this.label(attachment));
    figure.append(video);
    if (!looping) figure.append(this.caption(attachment, attachment.filename));
    return figure;
  }

  audio(attachment) {
    const figure = node("figure", "att-audio");
    const voice = attachment.kind === "voice";
    figure.append(this.caption(attachment, voice ? this.S.voice : attachment.filename));
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = attachment.url;
    audio.setAttribute("aria-label", this.label(attachment));
    figure.append(audio);
    return figure;
  }

  /** "name · 48 kB · Download" under a player. */
  caption(attachment, name) {
    const caption = node("figcaption", "att-caption");
    caption.append(node("span", "att-name", name), node("span", "att-size", this.size(attachment.size)));
    caption.append(download(attachment, this.S.download));
    return caption;
  }

  /** Any other file: a chip with its type, name and size that downloads it. */
  file(attachment) {
    const link = download(attachment);
    link.className = "att-file";
    link.append(icon(attachment.filename));
    const body = node("span", "att-body");
    body.append(node("span", "att-name", attachment.filename));
    body.append(node("span", "att-size", `${this.size(attachment.size)} · ${this.S.download}`));
    link.append(body);
    return link;
  }

  /** The full-size picture, over the page (Escape or a click outside closes it). */
  open(attachment) {
    const dialog = document.getElementById("viewer");
    if (!dialog || typeof dialog.showModal !== "function") {
      window.open(attachment.url, "_blank", "noopener");
      return;
    }
    const image = dialog.querySelector(".viewer-image");
    image.src = attachment.url;
    image.alt = this.label(attachment);
    const details = [attachment.filename, this.size(attachment.size)];
    if (attachment.width && attachment.height) details.push(`${attachment.width}×${attachment.height}`);
    dialog.querySelector(".viewer-name").textContent = details.join(" · ");
    const save = dialog.querySelector(".viewer-download");
    save.href = attachment.url;
    save.download = attachment.filename;
    if (!this.viewer) {
      this.viewer = dialog;
      dialog.addEventListener("click", (event) => {
        if (event.target === dialog || event.target === image) dialog.close();
      });
      dialog.addEventListener("close", () => image.removeAttribute("src"));
    }
    dialog.showModal();
  }
}

/** width × height scaled down (never up) to fit a square box; a guess when unknown. */
function fit(width, height, box) {
  if (!width || !height) return [box, Math.round(box * 0.75)];
  const scale = Math.min(1, box / width, box / height);
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/** "PDF" for invoice.pdf: the chip's badge (empty for a name with no extension). */
function extension(filename) {
  const match = /\.([A-Za-z0-9]{1,5})$/.exec(filename || "");
  return match ? match[1].toUpperCase() : "";
}

/** The page-shaped badge of a file, its extension on it (coloured by CSS). */
export function icon(filename) {
  const ext = extension(filename);
  const badge = node("span", "att-icon", ext);
  badge.dataset.ext = ext;
  badge.setAttribute("aria-hidden", "true");
  return badge;
}

function download(attachment, text) {
  const link = node("a", "att-download", text);
  link.href = attachment.url;
  link.download = attachment.filename;
  return link;
}

