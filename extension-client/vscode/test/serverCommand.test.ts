import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import {
    buildServerCommand,
    DOCUMENT_SELECTOR,
    describeCommand,
    SERVER_MODULE,
} from '../src/serverCommand';

describe('DOCUMENT_SELECTOR', () => {
    it('selects Python files, unsaved Python editors and Python notebook cells', () => {
        assert.deepEqual(DOCUMENT_SELECTOR, [
            { scheme: 'file', language: 'python' },
            { scheme: 'untitled', language: 'python' },
            { notebook: 'jupyter-notebook', language: 'python' },
        ]);
    });
});

describe('buildServerCommand', () => {
    it('runs python3 -m recode.server.lsp by default', () => {
        for (const value of [undefined, '', '   ', 42, null]) {
            assert.deepEqual(buildServerCommand(value), {
                command: 'python3',
                args: ['-m', 'recode.server.lsp'],
            });
        }
    });

    it('uses the configured interpreter, expanded, and the workspace as cwd', () => {
        const cmd = buildServerCommand(' ${workspaceFolder}/.venv/bin/python ', {
            workspaceFolder: '/home/u/my proj',
            homeDir: '/home/u',
        });
        assert.deepEqual(cmd, {
            command: '/home/u/my proj/.venv/bin/python',
            args: ['-m', SERVER_MODULE],
            cwd: '/home/u/my proj',
        });
        assert.equal(buildServerCommand('~/py/bin/python', { homeDir: '/h' }).command, '/h/py/bin/python');
    });

    it('quotes only what needs quoting when described', () => {
        assert.equal(describeCommand(buildServerCommand('python3')), 'python3 -m recode.server.lsp');
        assert.equal(
            describeCommand({ command: "/a b/it's/python", args: ['-m', 'x'] }),
            `'/a b/it'\\''s/python' -m x`,
        );
    });

    it('starts the named module when run (a stand-in recode.server.lsp)', (t) => {
        const python = ['python3', 'python'].find(
            (p) => spawnSync(p, ['--version']).status === 0,
        );
        if (python === undefined) {
            t.skip('no Python interpreter on PATH');
            return;
        }
        const root = mkdtempSync(join(tmpdir(), 'recode-cmd-'));
        try {
            const pkg = join(root, 'recode', 'server', 'lsp');
            mkdirSync(pkg, { recursive: true });
            writeFileSync(join(pkg, '__main__.py'), 'import sys\nprint("stand-in", sys.argv[0])\n');
            const cmd = buildServerCommand(python, { workspaceFolder: root });
            const run = spawnSync(cmd.command, cmd.args, { cwd: cmd.cwd, encoding: 'utf8' });
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stdout, /^stand-in .*recode[/\\]server[/\\]lsp[/\\]__main__\.py/);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});
