/**
 * Reads the URL back out of the QR images linkfort serves, with jsQR (a reader independent of the
 * qrcode package that drew them): a test then proves what a phone would open.
 */
import jsQR from "jsqr";
import { PNG } from "pngjs";

/** The text of the QR code in a PNG, or undefined when no code is found. */
export function readPngQr(bytes: Uint8Array): { text: string | undefined; width: number; height: number } {
  const png = PNG.sync.read(Buffer.from(bytes));
  const found = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength), png.width, png.height);
  return { text: found?.data, width: png.width, height: png.height };
}

const PIXELS_PER_MODULE = 8;

/**
 * The text of the QR code in an SVG whose dark modules are one path of horizontal runs
 * (`M x y` / `m dx dy` moves, `h n` runs at the row y - 0.5, as qrcode draws them), rasterised.
 */
export function readSvgQr(svg: string): string | undefined {
  const side = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  const path = /<path[^>]*stroke="#000000"[^>]*\sd="([^"]+)"/.exec(svg)?.[1];
  if (!Number.isInteger(side) || side <= 0 || path === undefined) return undefined;
  const dark = new Set<number>();
  let x = 0;
  let y = 0;
  for (const [, command, args] of path.matchAll(/([MmHh])([^MmHh]*)/g)) {
    const n = args!.trim().split(/[\s,]+/).map(Number);
    if (command === "M") [x, y] = [n[0]!, n[1]!];
    else if (command === "m") [x, y] = [x + n[0]!, y + n[1]!];
    else {
      const end = command === "h" ? x + n[0]! : n[0]!;
      for (let col = x; col < end; col++) dark.add(Math.floor(y) * side + col);
      x = end;
    }
  }
  const px = side * PIXELS_PER_MODULE;
  const rgba = new Uint8ClampedArray(px * px * 4).fill(255);
  for (let i = 0; i < px * px; i++) {
    const module = Math.floor(Math.floor(i / px) / PIXELS_PER_MODULE) * side + Math.floor((i % px) / PIXELS_PER_MODULE);
    if (dark.has(module)) rgba.fill(0, i * 4, i * 4 + 3);
  }
  return jsQR(rgba, px, px)?.data;
}
