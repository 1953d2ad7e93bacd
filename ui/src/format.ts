// Dates and numbers as people in Uzbekistan read them: dd.MM.yyyy, times in Asia/Tashkent.

/** `2026-09-14` → `14.09.2026`. */
export function date(iso: string | null | undefined): string {
  if (!iso) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  return m ? `${m[3]}.${m[2]}.${m[1]}` : iso;
}

/** `14.09.2026` (or `14.9.2026`, `2026-09-14`) → `2026-09-14`, or null. */
export function parseDate(text: string): string | null {
  const s = text.trim();
  let m = /^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$/.exec(s);
  if (m) {
    const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return valid(y, mo, d);
  }
  m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m) return valid(Number(m[1]), Number(m[2]), Number(m[3]));
  return null;
}

function valid(y: number, mo: number, d: number): string | null {
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return `${y}-${pad(mo)}-${pad(d)}`;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

const TASHKENT_OFFSET_MS = 5 * 3600 * 1000;

/** Unix ms → `14.09.2026 10:05` in Tashkent time. */
export function dateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms <= 0) return "";
  const d = new Date(ms + TASHKENT_OFFSET_MS);
  return `${pad(d.getUTCDate())}.${pad(d.getUTCMonth() + 1)}.${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** Today in Tashkent as `YYYY-MM-DD`. */
export function today(): string {
  const d = new Date(Date.now() + TASHKENT_OFFSET_MS);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function num(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined) return "—";
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

export function percent(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  return `${num(v)}%`;
}
