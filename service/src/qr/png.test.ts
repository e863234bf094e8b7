import { describe, expect, test } from "bun:test";
import { PNG } from "pngjs";
import QRCode from "qrcode";
import { modulesToPng } from "./png.ts";

const OPTIONS = { errorCorrectionLevel: "M", margin: 4 } as const;

/** Each pixel of a PNG as dark (1) or light (0), whatever its colour type. */
function pixels(bytes: Uint8Array): { width: number; height: number; dark: string } {
  const png = PNG.sync.read(Buffer.from(bytes));
  let dark = "";
  for (let i = 0; i < png.width * png.height; i++) dark += png.data[i * 4]! < 128 ? "1" : "0";
  return { width: png.width, height: png.height, dark };
}

describe("modulesToPng", () => {
  // qrcode's own PNG renderer is the reference: ours must be the same image, pixel for pixel.
  for (const [text, width] of [
    ["https://s.example.test/AbC123", 128], ["https://s.example.test/AbC123", 256], ["https://s.example.test/AbC123", 333],
    ["https://s.example.test/AbC123", 1024], ["http://127.0.0.1:8080/x", 200],
    // A code too large for the width: both fall back to 4 pixels a module.
    [`https://s.example.test/${"a".repeat(300)}`, 128],
  ] as const) {
    test(`draws what qrcode's renderer draws: ${text.length} characters at ${width} px`, async () => {
      const ours = pixels(modulesToPng(QRCode.create(text, OPTIONS).modules, OPTIONS.margin, width));
      const reference = pixels(await QRCode.toBuffer(text, { ...OPTIONS, type: "png", width }));
      expect({ width: ours.width, height: ours.height }).toEqual({ width: reference.width, height: reference.height });
      expect(ours.dark === reference.dark, `${ours.dark.split("1").length - 1} dark pixels vs ${reference.dark.split("1").length - 1}`).toBe(true);
    });
  }

  test("is a 1-bit greyscale PNG", () => {
    const bytes = modulesToPng(QRCode.create("https://s.example.test/AbC123", OPTIONS).modules, OPTIONS.margin, 256);
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([256, 256]);
    // IHDR: bit depth at byte 24, colour type at 25.
    expect([bytes[24], bytes[25]]).toEqual([1, 0]);
  });
});
