/**
 * A real OpenSSH server on 127.0.0.1, started as a child process with its own `sshd_config`, host
 * key and `authorized_keys` in one folder: the MA130 of the tests (test/support/sshd.ts), of the
 * benchmarks and of `make dev` when no MA130 is configured (ops/ma130/dev-ma130.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sshFingerprint } from '../../subgraphs/tenants/src/config.js';
import { isRunning, signalChild, signalDescendant } from '../../lib/process-signal.js';

/** Options of {@link startLocalSshd}. */
export interface LocalSshdOptions {
  /** Folder for the config, keys, pid file and log; created when missing. Must be absolute. */
  dir: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /**
   * Public keys (OpenSSH `authorized_keys` lines) allowed to log in. When empty, a client key pair
   * is generated in `dir` (`client_ed25519`) and authorised.
   */
  authorizedKeys?: string[];
  /** Only the SFTP subsystem (`ForceCommand internal-sftp`), like the real MA130 account. @default true */
  sftpOnly?: boolean;
  /** Path of the sshd binary. @default `/usr/sbin/sshd`, else `sshd` on the PATH */
  sshdPath?: string;
  /** Milliseconds to wait for the server to answer. @default 10000 */
  startTimeoutMs?: number;
}

/** A running server; see {@link startLocalSshd}. */
export interface LocalSshd {
  host: '127.0.0.1';
  port: number;
  /** The user that logs in (the user sshd runs as). */
  username: string;
  /** `SHA256:<base64 without padding>` of the host key, as `ssh-keygen -lf` prints it. */
  hostKeySha256: string;
  /** The host public key, one OpenSSH line. */
  hostPublicKey: string;
  /** Private key authorised to log in (generated when no `authorizedKeys` were given, else ''). */
  clientKeyPath: string;
  /** The folder holding everything (config, keys, log). */
  dir: string;
  /** sshd's log (stderr with `-e`). */
  logPath: string;
  /** PID of the listening sshd while it runs; undefined once it has stopped (never a placeholder pid). */
  readonly pid: number | undefined;
  /** SIGTERM to the listener and every session process it forked; waits for the listener to exit. */
  stop(): Promise<void>;
  /**
   * SIGKILL to the listener and its sessions (a crash, as opposed to a shutdown). The signals are sent
   * before it returns, so it also works from a process `exit` handler.
   */
  kill(): Promise<void>;
  /** Starts again on the same port with the same keys (after stop or kill; stops first if running). */
  restart(): Promise<void>;
}

/** The sshd binary: Debian's path first, then the PATH. */
export function findSshd(explicit?: string): string {
  if (explicit) return explicit;
  if (existsSync('/usr/sbin/sshd')) return '/usr/sbin/sshd';
  const which = spawnSync('sh', ['-c', 'command -v sshd'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  if (which.status === 0 && found) return found;
  throw new Error('sshd not found: install openssh-server (apt-get install -y openssh-server)');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function keygen(file: string, comment: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr || String(r.error)}`);
}

/**
 * Every descendant of `pid` (sshd forks one process, which forks more, per connection). Synchronous,
 * so a stop can signal them from an `exit` handler, where no asynchronous work runs any more.
 */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat = '';
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the parenthesised command name: state, ppid, ...
    const tail = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(tail[1]);
    if (!Number.isFinite(ppid)) continue;
    const list = parents.get(ppid) ?? [];
    list.push(Number(entry));
    parents.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const child of parents.get(p) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

async function waitForBanner(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd exited (${String(child.exitCode ?? child.signalCode)}) before listening`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      const done = (v: boolean): void => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(1000, () => done(false));
      sock.once('data', (d) => done(d.toString('latin1').startsWith('SSH-')));
      sock.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd did not answer on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a real OpenSSH server on 127.0.0.1 (see the module comment). Reuses keys already in
 * `dir`, so a restarted development MA130 keeps its host key (and the pinned fingerprint stays valid).
 *
 * Who logs in: sshd can only authenticate the user it runs as unless it runs as root. So the login
 * user is the current user: `root` in CI (which runs as root; `PermitRootLogin prohibit-password`
 * allows key-only root logins), your own user when a developer runs it unprivileged. `AllowUsers`
 * restricts the server to that one user, and `ForceCommand internal-sftp` makes it SFTP-only, like
 * the real MA130 account that ops/ma130/setup_ma130.sh prepares.
 *
 * Needs Debian's `openssh-server` (`apt-get install -y openssh-server`) for `/usr/sbin/sshd`, and
 * `ssh-keygen` (openssh-client, a dependency of it).
 */
export async function startLocalSshd(opts: LocalSshdOptions): Promise<LocalSshd> {
  if (!path.isAbsolute(opts.dir))
    throw new Error('startLocalSshd: dir must be absolute (sshd needs absolute paths)');
  const sshd = findSshd(opts.sshdPath);
  const dir = opts.dir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const isRoot = process.getuid?.() === 0;
  // Privilege separation: root-run sshd refuses to start without this (empty, root-owned) folder.
  if (isRoot) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  if (!existsSync(hostKey)) keygen(hostKey, 'tradesage-ma130-host');
  const hostPublicKey = (await readFile(`${hostKey}.pub`, 'utf8')).trim();

  let clientKeyPath = '';
  let authorized = opts.authorizedKeys ?? [];
  if (authorized.length === 0) {
    clientKeyPath = path.join(dir, 'client_ed25519');
    if (!existsSync(clientKeyPath)) keygen(clientKeyPath, 'tradesage-backup@test');
    authorized = [(await readFile(`${clientKeyPath}.pub`, 'utf8')).trim()];
  }
  const authorizedKeysFile = path.join(dir, 'authorized_keys');
  await writeFile(authorizedKeysFile, `${authorized.join('\n')}\n`, { mode: 0o600 });
  await chmod(authorizedKeysFile, 0o600);

  const username = os.userInfo().username;
  const port = opts.port && opts.port > 0 ? opts.port : await freePort();
  const pidFile = path.join(dir, 'sshd.pid');
  const config = path.join(dir, 'sshd_config');
  const lines = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${pidFile}`,
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The temp folder and key files are not checked for ownership/modes (tests, unprivileged dev).
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${username}`,
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'X11Forwarding no',
    'PermitTTY no',
    'PrintMotd no',
    // The nightly run opens many sessions at once; the default 10:30:100 would drop some.
    'MaxStartups 200:30:400',
    'MaxSessions 64',
    'ClientAliveInterval 15',
    'LogLevel INFO',
    'Subsystem sftp internal-sftp',
    ...(opts.sftpOnly === false ? [] : ['ForceCommand internal-sftp']),
  ];
  await writeFile(config, `${lines.join('\n')}\n`, { mode: 0o600 });
  const logPath = path.join(dir, 'sshd.log');

  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const log = openSync(logPath, 'a');
    try {
      // -D: stay in the foreground (we own the process), -e: log to stderr (our log file).
      child = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const c = child;
    c.once('error', () => undefined);
    try {
      await waitForBanner(port, c, opts.startTimeoutMs ?? 10_000);
    } catch (err) {
      signalChild(c, 'SIGKILL');
      const tail = (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-8).join('\n');
      throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
    }
  };

  // Signals are sent synchronously, before the first await: `kill()` also works from an exit handler.
  const terminate = async (sig: NodeJS.Signals): Promise<void> => {
    const c = child;
    child = undefined;
    if (!isRunning(c)) return;
    // Sessions are separate processes (sshd forks and setsid()s per connection), so the listener's
    // signal does not reach them. They are signalled first, while they are still the listener's
    // children (a pid found under a running parent cannot have been reused); once the listener is
    // gone they would be re-parented and keep serving uploads.
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    for (const pid of descendants(c.pid)) signalDescendant(pid, sig);
    signalChild(c, sig);
    await exited;
  };

  await launch();
  return {
    host: '127.0.0.1',
    port,
    username,
    hostKeySha256: sshFingerprint(hostPublicKey),
    hostPublicKey,
    clientKeyPath,
    dir,
    logPath,
    get pid(): number | undefined {
      return isRunning(child) ? child.pid : undefined;
    },
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    async restart() {
      await terminate('SIGTERM');
      await launch();
    },
  };
}
