/** Draws a QR code, offline, with the qrcode package; the same in a source checkout and the compiled binary. */
import QRCode from "qrcode";
import qrcodePackage from "qrcode/package.json" with { type: "json" };
import type { QrSpec } from "./model.ts";
import { modulesToPng, PNG_WRITER } from "./png.ts";

// M (15 % of the code may be lost) is the usual choice for a printed URL; the margin of 4
// modules is the quiet zone the QR standard asks for, so scanners find the code on any background.
const OPTIONS = { errorCorrectionLevel: "M", margin: 4 } as const;

/**
 * Names everything besides the spec that decides the bytes; part of the ETag, so an upgrade of
 * the library or a change of options can never leave a client holding an image for the wrong bytes.
 */
export const QR_RENDERING = `qrcode ${qrcodePackage.version} ecl=${OPTIONS.errorCorrectionLevel} margin=${OPTIONS.margin} ${PNG_WRITER}`;

/** The image's bytes: SVG text or a PNG, `size` pixels wide (more if the code cannot fit). */
export async function drawQr(spec: QrSpec): Promise<string | Uint8Array> {
  if (spec.format === "svg") return QRCode.toString(spec.shortUrl, { ...OPTIONS, type: "svg", width: spec.size });
  return modulesToPng(QRCode.create(spec.shortUrl, OPTIONS).modules, OPTIONS.margin, spec.size);
}
