"""Renders the app's icon (src/app/icon.svg) into the PNGs Farcaster clients take: `public/icon-1024.png` (the
manifest's iconUrl, 1024 x 1024) and `public/splash-200.png` (splashImageUrl, 200 x 200), opaque (no alpha channel)
on the icon's own yellow, square (clients round the corners). Rendered by Chromium, so what the SVG draws is what the
PNG shows; run again when the SVG changes: `.venv/bin/python apps/web/scripts/render-icons.py` (the PNGs are
committed, so a build needs no browser)."""

from __future__ import annotations

import base64
import shutil
import struct
import zlib
from pathlib import Path

from playwright.sync_api import sync_playwright

WEB = Path(__file__).resolve().parent.parent
SIZES = {"icon-1024.png": 1024, "splash-200.png": 200}
BACKGROUND = "#fcff52"  # the SVG's rounded square, filled out to the corners

DRAW = """async ([svg, size, background]) => {
  const image = new Image();
  image.src = "data:image/svg+xml;base64," + btoa(svg);
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const g = canvas.getContext("2d");
  g.fillStyle = background;
  g.fillRect(0, 0, size, size);
  g.drawImage(image, 0, 0, size, size);
  const rgba = g.getImageData(0, 0, size, size).data;
  let binary = "";
  for (let i = 0; i < rgba.length; i += 0x8000) binary += String.fromCharCode(...rgba.subarray(i, i + 0x8000));
  return btoa(binary);
}"""


def png(rgba: bytes, size: int) -> bytes:
    """An RGB PNG (colour type 2: no alpha) of the opaque pixels."""
    rows = b"".join(
        b"\0" + bytes(b for i, b in enumerate(rgba[y * size * 4 : (y + 1) * size * 4]) if i % 4 != 3)
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def main() -> None:
    svg = (WEB / "src" / "app" / "icon.svg").read_text()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        for name, size in SIZES.items():
            rgba = base64.b64decode(page.evaluate(DRAW, [svg, size, BACKGROUND]))
            (WEB / "public" / name).write_bytes(png(rgba, size))
        browser.close()


if __name__ == "__main__":
    main()
