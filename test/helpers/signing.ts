// Real signing keys for the trust tests: OpenPGP keys made by gpg in a private GNUPGHOME (one of
// them made and used at a faked past time, so it has expired; one revoked), SSH keys made by
// ssh-keygen, and commits and tags signed by git itself with either format.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GpgKey {
  kind: 'gpg';
  fingerprint: string;
  /** Armored public key file. */
  publicFile: string;
  /** The git -c options that sign with it. */
  gitConfig: string[];
}

export interface SshKey {
  kind: 'ssh';
  privateFile: string;
  publicLine: string;
  gitConfig: string[];
}

export type SigningKey = GpgKey | SshKey;

export class Keyring {
  readonly gnupghome: string;
  private n = 0;
  constructor(readonly dir: string) {
    this.gnupghome = join(dir, 'gnupg');
    mkdirSync(this.gnupghome, { recursive: true, mode: 0o700 });
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, GNUPGHOME: this.gnupghome };
  }

  private gpg(args: string[], input?: string): string {
    return execFileSync('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
      env: this.env,
      input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  /** A new OpenPGP signing key; `at` fakes the time it is made and used (then `expire` counts from there). */
  gpgKey(name: string, o: { at?: string; expire?: string } = {}): GpgKey {
    const faked = o.at ? ['--faked-system-time', `${o.at}!`] : [];
    const uid = `${name} <${name.toLowerCase().replace(/\W+/g, '-')}@example.com>`;
    this.gpg([...faked, '--quick-gen-key', uid, 'ed25519', 'sign', o.expire ?? 'never']);
    const colons = this.gpg(['--with-colons', '--list-keys', uid]);
    const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
    const publicFile = join(this.dir, `${name}.asc`);
    writeFileSync(publicFile, this.gpg(['--armor', '--export', fingerprint]));
    let program = 'gpg';
    if (o.at) {
      program = join(this.dir, `gpg-at-${++this.n}`);
      writeFileSync(program, `#!/bin/sh\nexec gpg --faked-system-time '${o.at}!' "$@"\n`);
      chmodSync(program, 0o755);
    }
    return {
      kind: 'gpg',
      fingerprint,
      publicFile,
      gitConfig: ['-c', 'gpg.format=openpgp', '-c', `gpg.program=${program}`, '-c', `user.signingkey=${fingerprint}`],
    };
  }

  /** Revokes a key with the revocation certificate gpg wrote when it made it; rewrites its public file. */
  revoke(key: GpgKey): void {
    const dir = join(this.gnupghome, 'openpgp-revocs.d');
    const file = readdirSync(dir).find((f) => f.startsWith(key.fingerprint))!;
    const cert = readFileSync(join(dir, file), 'utf8').replace(/^:-----BEGIN/m, '-----BEGIN');
    this.gpg(['--import'], cert);
    writeFileSync(key.publicFile, this.gpg(['--armor', '--export', key.fingerprint]));
  }

  sshKey(name: string, type: 'ed25519' | 'rsa' | 'ecdsa' = 'ed25519'): SshKey {
    const privateFile = join(this.dir, `${name}-ssh`);
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', privateFile]);
    const publicLine = readFileSync(`${privateFile}.pub`, 'utf8').trim();
    return {
      kind: 'ssh',
      privateFile,
      publicLine,
      gitConfig: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${privateFile}`],
    };
  }

  /** An allowed_signers file trusting these SSH keys for git. */
  allowedSigners(file: string, keys: SshKey[], options = 'namespaces="git"'): string {
    const path = join(this.dir, file);
    writeFileSync(
      path,
      '# principals options keytype key comment\n' +
        keys.map((k) => `${k.publicLine.split(' ').at(-1)}@example.com ${options} ${k.publicLine}`).join('\n') +
        '\n',
    );
    return path;
  }
}

/** git in a work tree, with the keyring's GNUPGHOME. */
export function gitIn(dir: string, keyring: Keyring) {
  return (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: dir,
      env: keyring.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
}

/** Commits a change, signed with `key` when given; returns the commit id. */
export function commitSigned(dir: string, keyring: Keyring, file: string, content: string, key?: SigningKey): string {
  const git = gitIn(dir, keyring);
  writeFileSync(join(dir, file), content);
  git('add', '-A');
  git(...(key ? key.gitConfig : []), 'commit', '-q', ...(key ? ['-S'] : []), '-m', `change ${file}`);
  return git('rev-parse', 'HEAD');
}
