/**
 * The cluster's local certificate authority (`make setup`): `keys/tls/ca.{key,crt}` and one server
 * certificate for loopback (`localhost`, 127.0.0.1, ::1) that PgBouncer, Redis and the sentinels
 * present. Clients verify it against ca.crt (sslrootcert=, REDIS_TLS_CA_PATH). Made with the openssl
 * command line: node:crypto has no API that issues X.509 certificates.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Files of the local CA under a keys folder. */
export interface TlsFiles {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

/** Where the CA and the server certificate live under `keysDir` (`keys/tls/...`). */
export function tlsFiles(keysDir: string): TlsFiles {
  const dir = path.join(keysDir, 'tls');
  return {
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
  };
}

/** True when the openssl command line is installed. */
export function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`openssl ${args[0] ?? ''} failed: ${(r.stderr || '').trim().slice(-300)}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/**
 * Creates the CA and the server certificate when missing (each kept when present; a server
 * certificate is re-issued when the CA is new). Returns what was created.
 */
export async function ensureLocalCa(keysDir: string): Promise<'created' | 'kept'> {
  const f = tlsFiles(keysDir);
  if (existsSync(f.caCert) && existsSync(f.serverCert) && existsSync(f.serverKey)) return 'kept';
  await mkdir(path.dirname(f.caCert), { recursive: true, mode: 0o700 });
  if (!existsSync(f.caCert) || !existsSync(f.caKey)) {
    openssl([
      'req',
      '-x509',
      ...EC,
      '-keyout',
      f.caKey,
      '-out',
      f.caCert,
      '-days',
      '3650',
      '-subj',
      '/CN=TradeSage local CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }
  const csr = `${f.serverCert}.csr`;
  const ext = `${f.serverCert}.ext`;
  await writeFile(
    ext,
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' +
      'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n',
  );
  try {
    openssl(['req', ...EC, '-keyout', f.serverKey, '-out', csr, '-subj', '/CN=localhost']);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      f.caCert,
      '-CAkey',
      f.caKey,
      '-CAcreateserial',
      '-out',
      f.serverCert,
      '-days',
      '825',
      '-extfile',
      ext,
    ]);
  } finally {
    await rm(csr, { force: true });
    await rm(ext, { force: true });
  }
  await chmod(f.caKey, 0o600);
  await chmod(f.serverKey, 0o600);
  return 'created';
}
