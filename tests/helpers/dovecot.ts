import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';

/**
 * A throwaway Dovecot IMAP server on a loopback port: its own configuration file, a temporary
 * mail store (maildir) and a passwd-file, run in the foreground (-F) by the test, never the
 * system service. Plain IMAP on loopback (no TLS): the tests exercise fetching, not certificates.
 */
export interface Dovecot {
  host: string;
  port: number;
  /** Every user's password. */
  password: string;
  /** An IMAP client logged in as `user`, for delivering mail (APPEND) and looking at flags. */
  client(user: string): Promise<ImapFlow>;
  /** Appends raw messages to a user's folder (delivery as far as the fetcher can tell). */
  deliver(user: string, messages: (string | Buffer)[], folder?: string): Promise<void>;
  /** Ends every IMAP session of a user (doveadm kick): a connection dropped by the server. */
  kick(user: string): Promise<void>;
  stop(): Promise<void>;
}

const DOVECOT = '/usr/sbin/dovecot';
const DOVEADM = '/usr/bin/doveadm';

export async function startDovecot(options: { users?: string[]; password?: string; oauth2IntrospectionUrl?: string } = {}): Promise<Dovecot> {
  const users = options.users ?? ['support', 'sales', 'other'];
  const password = options.password ?? 'secret-password-1';
  const dir = await mkdtemp(join(tmpdir(), 'cd-dovecot-'));
  // Dovecot's auth process runs as its unprivileged user and must read the passwd-file.
  await chmod(dir, 0o755);
  const port = await freePort();
  const passwd = users.map((u) => `${u}:{PLAIN}${password}::::${dir}/home/${u}::`).join('\n');
  await writeFile(join(dir, 'users'), `${passwd}\n`);
  // Dovecot refuses to store mail as root: as root, the mail belongs to the dovecot user.
  const { uid, gid } = await mailOwner();
  for (const sub of ['mail', 'home']) {
    await mkdir(join(dir, sub), { recursive: true });
    await chown(join(dir, sub), uid, gid);
  }
  // Minimal configuration: only IMAP on one loopback port, plain auth allowed without TLS
  // (loopback only), maildir under the temp dir, every process as the current user.
  const conf = `
protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
info_log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login${options.oauth2IntrospectionUrl ? ' xoauth2 oauthbearer' : ''}
auth_failure_delay = 0
mail_location = maildir:${dir}/mail/%u
mail_uid = ${uid}
mail_gid = ${gid}
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = ${uid === 0 ? 'dovecot' : process.env.USER ?? 'nobody'}
default_login_user = ${uid === 0 ? 'dovenull' : process.env.USER ?? 'nobody'}
default_internal_group = ${uid === 0 ? 'dovecot' : process.env.USER ?? 'nogroup'}
imap_idle_notify_interval = 1 secs
mailbox_idle_check_interval = 1 secs
${options.oauth2IntrospectionUrl ? `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${dir}/oauth2.conf
}
` : ''}passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
userdb {
  driver = static
  args = uid=${uid} gid=${gid} home=${dir}/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
service doveadm {
  unix_listener doveadm-server {
    mode = 0666
  }
}
protocol imap {
  mail_max_userip_connections = 50
}
namespace inbox {
  inbox = yes
  separator = /
}
`;
  // XOAUTH2: dovecot checks each access token at the test's introspection endpoint (RFC 7662, POST).
  if (options.oauth2IntrospectionUrl) {
    await writeFile(join(dir, 'oauth2.conf'), `introspection_mode = post\nintrospection_url = ${options.oauth2IntrospectionUrl}\nforce_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n`);
    await chmod(join(dir, 'oauth2.conf'), 0o644);
  }
  const confPath = join(dir, 'dovecot.conf');
  await writeFile(confPath, conf);
  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitForPort(port, exited, () => output, dir);

  const host = '127.0.0.1';
  const client = async (user: string) => {
    const c = new ImapFlow({ host, port, secure: false, auth: { user, pass: password }, logger: false, disableAutoIdle: true });
    await c.connect();
    return c;
  };
  return {
    host,
    port,
    password,
    client,
    async deliver(user, messages, folder = 'INBOX') {
      const c = await client(user);
      try {
        const exists = (await c.list()).some((m) => m.path === folder);
        if (!exists) await c.mailboxCreate(folder);
        for (const m of messages) await c.append(folder, m);
      } finally {
        await c.logout().catch(() => c.close());
      }
    },
    async kick(user) {
      await run(DOVEADM, ['-c', confPath, 'kick', user]);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function mailOwner(): Promise<{ uid: number; gid: number }> {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) return { uid, gid: process.getgid?.() ?? 0 };
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('dovecot:'));
  if (!line) throw new Error('no dovecot user in /etc/passwd');
  const [, , u, g] = line.split(':');
  return { uid: Number(u), gid: Number(g) };
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`))));
    p.once('error', reject);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Bounded: the server accepts connections within 15 s, or the start fails with its log. */
async function waitForPort(port: number, exited: Promise<number | null>, output: () => string, dir: string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (gone) break;
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = await readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '');
  throw new Error(`dovecot did not start on port ${port}: ${output()} ${log}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(({ connect }) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  });
}
