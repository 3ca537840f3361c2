// A picture for a person or a group without any network: a two-colour gradient picked by a hash of the address (or
// chat id) and the initials of the name shown — the same on every device.

export interface Avatar {
  /** CSS colours of the gradient. */
  from: string;
  to: string;
  initials: string;
}

/** FNV-1a over the lower-cased key: cheap, stable, well spread for hues. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (const ch of key.toLowerCase()) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** "Clever Mango" → "CM"; "Book club" → "BC"; one word → its first letter; "#3f9a" tags are skipped. */
export function initialsOf(label: string): string {
  const words = label.split(/\s+/).filter((w) => w && !w.startsWith("#"));
  const letters = words.slice(0, 2).map((w) => [...w][0]!.toUpperCase());
  return letters.join("") || "?";
}

export function avatarOf(key: string, label: string): Avatar {
  const h = hash(key);
  const hue = h % 360;
  const second = (hue + 40 + ((h >>> 9) % 80)) % 360;
  return { from: `hsl(${hue} 70% 45%)`, to: `hsl(${second} 75% 35%)`, initials: initialsOf(label) };
}
