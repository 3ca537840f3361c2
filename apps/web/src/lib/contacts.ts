// Labels this device gives contacts ("Mum", "Ada"), kept in localStorage; components read them with useContacts.
import type { Labels } from "./names";

const KEY = "om.contacts";
const CHANGED = "om-contacts-changed";
const MAX_LABEL = 40;

export function readLabelsRaw(): string {
  return window.localStorage.getItem(KEY) ?? "{}";
}

export function parseLabels(raw: string): Labels {
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (!parsed || typeof parsed !== "object") return {};
    return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === "string"));
  } catch {
    return {};
  }
}

/** Sets (or, with an empty label, removes) the label of `address`. */
export function saveLabel(address: string, label: string): void {
  const labels: Record<string, string> = { ...parseLabels(readLabelsRaw()) };
  const trimmed = label.trim().slice(0, MAX_LABEL);
  if (trimmed) labels[address.toLowerCase()] = trimmed;
  else delete labels[address.toLowerCase()];
  window.localStorage.setItem(KEY, JSON.stringify(labels));
  window.dispatchEvent(new Event(CHANGED));
}

export function subscribeLabels(onChange: () => void): () => void {
  window.addEventListener("storage", onChange);
  window.addEventListener(CHANGED, onChange);
  return () => {
    window.removeEventListener("storage", onChange);
    window.removeEventListener(CHANGED, onChange);
  };
}
