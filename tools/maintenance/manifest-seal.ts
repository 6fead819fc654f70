// Manifests that protect themselves. A manifest is the only thing vouching for a dump (its rows,
// checksum, SHA-256, range), so it carries two proofs of its own integrity:
//  - `seal` inside it: the SHA-256 of its other fields (JSON, in the order written);
//  - `<manifest>.sha256` beside it: the SHA-256 of the manifest file's bytes, in sha256sum's
//    format (`sha256sum -c` checks it by hand).
// A manifest whose seal or side file disagrees is damaged, and nothing is restored from it.
// Offloads write both create-exclusive: the side file first, then the manifest, each linked to its
// name from a finished temporary file, so a manifest on disk always has its side file and an
// existing name is never written over.
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { ArtefactExistsError, publishFile } from './dump';

export function manifestSideFile(manifestFile: string): string {
  return `${manifestFile}.sha256`;
}

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

function sealOf(fields: Record<string, unknown>): string {
  const { seal: _ignored, ...rest } = fields;
  return sha256(JSON.stringify(rest));
}

/** The manifest's bytes with its seal. */
export function sealedManifestText(manifest: object): string {
  const fields = { ...(manifest as Record<string, unknown>) };
  delete fields.seal;
  return JSON.stringify({ ...fields, seal: sealOf(fields) }, null, 2) + '\n';
}

function writeDurably(file: string, text: string, exclusive: boolean): void {
  const tmp = `${file}.partial`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, 'wx');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  publishFile(tmp, file, exclusive);
}

/**
 * Writes a sealed manifest and its side file. exclusive: fails (ArtefactExistsError) when either
 * name is taken, writing over nothing; otherwise replaces both (retire's rerun of its own set).
 */
export function writeSealedManifest(file: string, manifest: object, exclusive: boolean): void {
  const text = sealedManifestText(manifest);
  const side = manifestSideFile(file);
  if (exclusive && fs.existsSync(file)) throw new ArtefactExistsError(file);
  // A side file without its manifest (a run killed between the two) vouches for nothing.
  if (exclusive) fs.rmSync(side, { force: true });
  writeDurably(side, `${sha256(text)}  ${path.basename(file)}\n`, exclusive);
  writeDurably(file, text, exclusive);
}

export class ManifestDamagedError extends Error {}

/**
 * Reads a manifest and proves it unchanged since it was written: its side file's hash and its
 * seal must both agree. A manifest with neither (written before manifests were sealed) is
 * returned with legacy = true. Throws ManifestDamagedError naming what disagrees.
 */
export function readSealedManifest<T>(file: string): { manifest: T; legacy: boolean } {
  const name = path.basename(file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new ManifestDamagedError(`${name} is missing or unreadable`);
  }
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ManifestDamagedError(`${name} is not valid JSON (damaged)`);
  }
  const side = manifestSideFile(file);
  const hasSide = fs.existsSync(side);
  if (!hasSide && fields.seal === undefined) return { manifest: fields as T, legacy: true };
  if (!hasSide) throw new ManifestDamagedError(`${name} is sealed but its ${path.basename(side)} is missing (damaged or moved without it)`);
  const recorded = fs.readFileSync(side, 'utf8').trim().split(/\s+/)[0];
  const actual = sha256(bytes);
  if (recorded !== actual) {
    throw new ManifestDamagedError(`${name} changed since it was written: its SHA-256 ${actual.slice(0, 16)}… differs from ${path.basename(side)}'s ${recorded.slice(0, 16)}… (damaged)`);
  }
  if (typeof fields.seal !== 'string' || fields.seal !== sealOf(fields)) {
    throw new ManifestDamagedError(`${name}: its seal does not match its fields (damaged)`);
  }
  return { manifest: fields as T, legacy: false };
}
