/**
 * A QR code's modules as a 1-bit greyscale PNG. qrcode's own PNG renderer fills an RGBA bitmap
 * pixel by pixel in JavaScript and filters it with pngjs: 100 ms of one instance's event loop for
 * a 1024 px image (measured on this machine under load; the redirects of that instance wait
 * behind it). One bit a pixel, rows built once per module row and copied, and the native zlib
 * make the same image in about a millisecond.
 */
import { deflateSync } from "node:zlib";

/** What QRCode.create gives: `size` x `size` modules, row by row, non-zero is dark. */
export interface Modules {
  size: number;
  data: Uint8Array;
}

/** Names this writer's output in the ETag (qr/image.ts): change it when the bytes it writes change. */
export const PNG_WRITER = "png=grey1-v1";

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, Bun.hash.crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function header(side: number): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, side);
  view.setUint32(4, side);
  data[8] = 1; // bit depth 1
  data[9] = 0; // greyscale: 0 is black, 1 is white
  return data;
}

/**
 * `width` pixels a side with `margin` light modules around the code, scaled as qrcode scales
 * (a fractional number of pixels a module); a width too small for one pixel a module gets 4.
 */
export function modulesToPng(modules: Modules, margin: number, width: number): Uint8Array {
  const total = modules.size + margin * 2;
  const scale = width >= total ? width / total : 4;
  const side = Math.floor(total * scale);
  const offset = margin * scale;
  const rowBytes = 1 + Math.ceil(side / 8); // a filter byte (0: none), then the pixels
  const raw = new Uint8Array(rowBytes * side);
  const blank = new Uint8Array(rowBytes).fill(0xff);
  blank[0] = 0;
  let previous = -2;
  for (let y = 0; y < side; y++) {
    const moduleRow = y >= offset && y < side - offset ? Math.floor((y - offset) / scale) : -1;
    const at = y * rowBytes;
    // Consecutive pixel rows of one module row are the same bytes.
    if (moduleRow === previous) raw.copyWithin(at, at - rowBytes, at);
    else if (moduleRow < 0) raw.set(blank, at);
    else drawRow(raw, at, modules, moduleRow, side, offset, scale);
    previous = moduleRow;
  }
  const parts = [SIGNATURE, chunk("IHDR", header(side)), chunk("IDAT", deflateSync(raw)), chunk("IEND", new Uint8Array(0))];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) { png.set(part, pos); pos += part.length; }
  return png;
}

function drawRow(raw: Uint8Array, at: number, modules: Modules, moduleRow: number, side: number, offset: number, scale: number): void {
  raw[at] = 0;
  raw.fill(0xff, at + 1, at + 1 + Math.ceil(side / 8));
  for (let x = 0; x < side; x++) {
    if (x < offset || x >= side - offset) continue;
    if (modules.data[moduleRow * modules.size + Math.floor((x - offset) / scale)]) raw[at + 1 + (x >> 3)]! &= ~(0x80 >> (x & 7));
  }
}
