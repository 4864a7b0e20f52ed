/* The stats page (`manager/#stats`): what `GET stats/?days=7|30` answers, drawn
   by the page itself: summary figures, the tickets opened and resolved per
   day as bars, the ratings' distribution, and a table per manager. The charts
   are SVG made here (no library); each bar carries its figure as a <title>,
   and the per-day chart has a table of the same figures for screen readers. */

import { S, fmt, node } from "./config.js";

const SVG = "http://www.w3.org/2000/svg";
const lang = document.documentElement.lang;
const dayFormat = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short" });
const rangeFormat = new Intl.DateTimeFormat(lang, { day: "numeric", month: "long", year: "numeric" });
const decimal = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
const integer = new Intl.NumberFormat(lang);
const units = {};

function unit(value, name) {
  if (!units[name]) {
    units[name] = new Intl.NumberFormat(lang, { style: "unit", unit: name, unitDisplay: "short" });
  }
  return units[name].format(value);
}

/** An SVG element with attributes, and a text when given. */
function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** "2026-11-30" as that day (local midnight, so no time zone moves it). */
export function day(iso) {
  const [year, month, date] = iso.split("-").map(Number);
  return new Date(year, month - 1, date);
}

/** Seconds in words: "45 s", "12 min", "1 h 30 min", "2 d 4 h"; "No data" for null. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return S.stats_none;
  const total = Math.round(seconds);
  if (total < 60) return unit(total, "second");
  const minutes = Math.round(total / 60);
  if (minutes < 60) return unit(minutes, "minute");
  if (minutes < 24 * 60) {
    const rest = minutes % 60;
    const hours = unit(Math.floor(minutes / 60), "hour");
    return rest ? `${hours} ${unit(rest, "minute")}` : hours;
  }
  const hours = Math.round(minutes / 60);
  const rest = hours % 24;
  const days = unit(Math.floor(hours / 24), "day");
  return rest ? `${days} ${unit(rest, "hour")}` : days;
}

/** The axis: a round step (1, 2 or 5 times a power of ten) and the top it reaches. */
export function scale(max) {
  const target = Math.max(1, max) / 4;
  const power = 10 ** Math.floor(Math.log10(target));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= target));
  return { step, top: Math.max(step, Math.ceil(Math.max(1, max) / step) * step) };
}

function average(value) {
  return value === null || value === undefined ? S.stats_none : `${decimal.format(value)} ★`;
}

/** Bars of the tickets opened and resolved each day, oldest on the left. */
export function dayChart(perDay) {
  const width = 720;
  const height = 240;
  const m = { left: 36, right: 8, top: 12, bottom: 28 };
  const plotWidth = width - m.left - m.right;
  const plotHeight = height - m.top - m.bottom;
  const max = Math.max(0, ...perDay.map((d) => Math.max(d.opened, d.resolved)));
  const { step, top } = scale(max);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "bars", role: "img", "aria-label": S.stats_per_day });
  const y = (value) => m.top + plotHeight - (value / top) * plotHeight;
  for (let tick = 0; tick <= top; tick += step) {
    chart.append(svg("line", { class: "grid", x1: m.left, x2: width - m.right, y1: y(tick), y2: y(tick) }));
    chart.append(svg("text", { class: "tick", x: m.left - 6, y: y(tick) + 4, "text-anchor": "end" }, integer.format(tick)));
  }
  const group = plotWidth / Math.max(1, perDay.length);
  const gap = Math.min(2, group * 0.05);
  const bar = Math.min(24, (group * 0.76 - gap) / 2);
  const every = perDay.length <= 10 ? 1 : Math.ceil(perDay.length / 10);
  perDay.forEach((entry, index) => {
    const date = dayFormat.format(day(entry.date));
    const x = m.left + index * group + (group - 2 * bar - gap) / 2;
    for (const [series, offset, words] of [
      ["opened", 0, S.stats_day_opened], ["resolved", bar + gap, S.stats_day_resolved],
    ]) {
      const value = entry[series];
      const rect = svg("rect", {
        class: `bar ${series}`, x: x + offset, y: y(value), width: bar,
        height: Math.max(0, m.top + plotHeight - y(value)), rx: 2,
        "data-date": entry.date, "data-value": value,
      });
      rect.append(svg("title", {}, fmt(words, { date, count: value })));
      chart.append(rect);
    }
    // The last day always has its label; from it, every *every*-th day back.
    if ((perDay.length - 1 - index) % every === 0) {
      chart.append(svg("text", {
        class: "day", x: m.left + index * group + group / 2, y: height - 8, "text-anchor": "middle",
      }, date));
    }
  });
  chart.append(svg("line", { class: "axis", x1: m.left, x2: width - m.right, y1: y(0), y2: y(0) }));
  return chart;
}

/** The same figures as a table, for screen readers. */
function dayTable(perDay) {
  const table = node("table", "visually-hidden");
  const head = node("tr");
  for (const text of ["", S.stats_opened, S.stats_resolved]) head.append(node("th", "", text));
  table.append(head);
  for (const entry of perDay) {
    const row = node("tr");
    row.append(node("th", "", dayFormat.format(day(entry.date))));
    row.append(node("td", "", String(entry.opened)), node("td", "", String(entry.resolved)));
    table.append(row);
  }
  return table;
}

/** How many ratings gave each score, 5 at the top. */
export function ratingChart(ratings) {
  const scores = [5, 4, 3, 2, 1];
  const byScore = (ratings && ratings.by_score) || {};
  const counts = scores.map((score) => Number(byScore[String(score)]) || 0);
  const max = Math.max(1, ...counts);
  const width = 320;
  const row = 30;
  const left = 40;
  const right = 36;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${row * scores.length + 4}`, class: "ratings", role: "img", "aria-label": S.stats_ratings,
  });
  scores.forEach((score, index) => {
    const count = counts[index];
    const top = index * row + 4;
    const length = ((width - left - right) * count) / max;
    chart.append(svg("text", { class: "score", x: left - 10, y: top + row / 2 + 1, "text-anchor": "end" }, `${score} ★`));
    chart.append(svg("rect", { class: "track", x: left, y: top + 4, width: width - left - right, height: row - 10, rx: 4 }));
    const rect = svg("rect", {
      class: `bar score-${score}`, x: left, y: top + 4, width: length, height: row - 10, rx: 4,
      "data-score": score, "data-value": count,
    });
    rect.append(svg("title", {}, fmt(S.stats_score, { score, count })));
    chart.append(rect);
    chart.append(svg("text", { class: "count", x: left + length + 8, y: top + row / 2 + 1 }, integer.format(count)));
  });
  return chart;
}

export class StatsView {
  constructor(store, root) {
    this.store = store;
    this.root = root;
    this.range = root.querySelector(".stats-range");
    this.error = root.querySelector(".stats-error");
    this.body = root.querySelector(".stats-body");
    this.cards = root.querySelector(".stats-cards");
    this.days = root.querySelector(".chart-days .chart-canvas");
    this.ratings = root.querySelector(".chart-ratings .chart-canvas");
    this.managers = root.querySelector(".stats-managers tbody");
    this.empty = root.querySelector(".stats-managers .empty");
    this.buttons = Array.from(root.querySelectorAll("[data-days]"));
    this.drawn = null; // the answer last drawn: a redraw of the same one is skipped
  }

  render() {
    const { days, data, error, loading } = this.store.stats;
    for (const button of this.buttons) button.setAttribute("aria-pressed", String(Number(button.dataset.days) === days));
    this.error.textContent = error || "";
    this.error.hidden = !error;
    this.body.setAttribute("aria-busy", String(loading || !data));
    if (this.store.view !== "stats" || !data || data === this.drawn) return;
    this.drawn = data;
    this.root.dataset.days = String(data.days);
    this.range.textContent = `${rangeFormat.format(day(data.since))} – ${rangeFormat.format(day(data.until))}`;
    const perDay = data.per_day || [];
    const sum = (name) => perDay.reduce((total, entry) => total + (Number(entry[name]) || 0), 0);
    const ratings = data.ratings || { count: 0, average: null, by_score: {} };
    const cards = [
      ["opened", S.stats_opened, integer.format(sum("opened"))],
      ["resolved", S.stats_resolved, integer.format(sum("resolved"))],
      ["first-reply", S.stats_first_reply, duration(data.first_reply_median_seconds)],
      ["resolution", S.stats_resolution, duration(data.resolution_median_seconds)],
      ["rating", S.stats_rating, average(ratings.average), fmt(S.stats_ratings_count, { count: ratings.count })],
    ];
    this.cards.replaceChildren(...cards.map(([name, label, value, note]) => {
      const card = node("div", `card card-${name}`);
      card.append(node("dt", "", label));
      const figure = node("dd", "figure", value);
      card.append(figure);
      if (note) card.append(node("dd", "card-note", note));
      return card;
    }));
    this.days.replaceChildren(dayChart(perDay), dayTable(perDay));
    this.ratings.replaceChildren(ratingChart(ratings));
    const managers = data.managers || [];
    this.managers.replaceChildren(...managers.map((manager) => {
      const row = node("tr");
      row.dataset.managerId = manager.id;
      row.append(node("th", "", manager.name || manager.username || `#${manager.id}`));
      row.lastChild.setAttribute("scope", "row");
      row.append(node("td", "num", integer.format(manager.replies)));
      row.append(node("td", "num", integer.format(manager.resolved)));
      row.append(node("td", "num", duration(manager.first_reply_median_seconds)));
      const rating = manager.rating_average === null || manager.rating_average === undefined
        ? S.stats_none : `${average(manager.rating_average)} (${integer.format(manager.ratings)})`;
      row.append(node("td", "num", rating));
      return row;
    }));
    this.empty.textContent = S.stats_no_managers;
    this.empty.hidden = managers.length > 0;
  }
}
