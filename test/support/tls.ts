/**
 * TLS material for private Redis servers: a CA and one certificate signed by it for 127.0.0.1
 * and localhost, made with openssl in a directory of the test's own. The servers present the
 * certificate and the clients present it too (Redis asks clients for one by default).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsFiles {
  dir: string;
  /** paths of the PEM files */
  ca: string;
  cert: string;
  key: string;
}

/** Throws one line naming what to install when openssl is missing. */
export function requireOpenssl(): void {
  if (spawnSync('openssl', ['version']).error)
    throw new Error(
      "The TLS tests need openssl on the PATH: install Debian's openssl (apt-get install openssl).",
    );
}

export function makeTlsFiles(): TlsFiles {
  requireOpenssl();
  const dir = mkdtempSync(join(tmpdir(), 'relay-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.trim().split('\n').pop()}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=relay test CA',
  );
  openssl('req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(file('ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'node.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'node.crt',
    '-days',
    '2',
    '-extfile',
    'ext',
  );
  return { dir, ca: file('ca.crt'), cert: file('node.crt'), key: file('node.key') };
}

/** The PEM text of the files, as the store takes it. */
export function readTls(files: TlsFiles): { ca: string; cert: string; key: string } {
  return {
    ca: readFileSync(files.ca, 'utf8'),
    cert: readFileSync(files.cert, 'utf8'),
    key: readFileSync(files.key, 'utf8'),
  };
}

export function removeTlsFiles(files: TlsFiles | undefined): void {
  if (files) rmSync(files.dir, { recursive: true, force: true });
}
