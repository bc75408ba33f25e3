/**
 * The real `recode-lsp`, started the way the extension starts it (`buildServerCommand` on the
 * `recode.serverPython` setting, initializationOptions from `normalizeSettings`), driven from
 * Node over stdio with vscode-languageserver-protocol: the exact diagnostics of a small file.
 *
 * The interpreter with ReCode installed comes from RECODE_TEST_PYTHON (scripts/test.sh passes
 * the dev venv's); without it the test is skipped, since nothing else says where ReCode is.
 * The server checks against a throw-away venv whose site-packages claims numpy 2.0.0, with the
 * small knowledge base of the Python tests (tests/lsp/data/kb), so the result depends neither
 * on what is installed nor on the shipped knowledge base.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

import {
    createProtocolConnection,
    DidOpenTextDocumentNotification,
    ExitNotification,
    InitializedNotification,
    InitializeRequest,
    PublishDiagnosticsNotification,
    type PublishDiagnosticsParams,
    ShutdownRequest,
    StreamMessageReader,
    StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';

import { buildServerCommand } from '../src/serverCommand';
import { normalizeSettings } from '../src/settings';

const REPO = resolve(__dirname, '..', '..', '..', '..');
const KB = join(REPO, 'tests', 'lsp', 'data', 'kb');
const TIMEOUT_MS = 60_000;

// three findings under numpy 2.0 (two with a mechanical fix), one after an emoji (UTF-16 columns)
const SAMPLE =
    'import numpy as np\n' +
    '\n' +
    'total = np.product([1, 2, 3])\n' +
    'label = "😀"; kind = np.find_common_type([], [])\n' +
    'area = np.trapz([1.0, 2.0])\n';

/** A venv made without pip whose site-packages says numpy 2.0.0 is installed. */
function fakeVenv(python: string, folder: string): string {
    const made = spawnSync(python, ['-m', 'venv', '--without-pip', folder], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const lib = join(folder, 'lib');
    const site = join(lib, readdirSync(lib).find((d) => d.startsWith('python'))!, 'site-packages');
    const dist = join(site, 'numpy-2.0.0.dist-info');
    mkdirSync(dist);
    writeFileSync(join(dist, 'METADATA'), 'Metadata-Version: 2.1\nName: numpy\nVersion: 2.0.0\n');
    return join(folder, 'bin', 'python');
}

describe('the real recode-lsp', () => {
    it('publishes the exact diagnostics of a small file', async (t) => {
        const python = process.env.RECODE_TEST_PYTHON;
        if (!python) {
            t.skip(
                'RECODE_TEST_PYTHON is not set: it names an interpreter with ReCode installed ' +
                    '(scripts/test.sh sets it to the dev venv)',
            );
            return;
        }
        const root = mkdtempSync(join(tmpdir(), 'recode-real-'));
        const project = join(root, 'project');
        mkdirSync(project);
        const file = join(project, 'mod.py');
        writeFileSync(file, SAMPLE);
        const venvPython = fakeVenv(python, join(root, 'venv'));

        // as the extension would: recode.serverPython -> the command; recode.* -> the settings
        const cmd = buildServerCommand(python, { workspaceFolder: project });
        const config: Record<string, unknown> = { python: venvPython, minSeverity: 'hint' };
        const { settings, warnings } = normalizeSettings((key) => config[key], {
            workspaceFolder: project,
        });
        assert.deepEqual(warnings, []);
        const server = spawn(cmd.command, cmd.args, {
            cwd: cmd.cwd,
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stderr = '';
        server.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const exited = new Promise<number | null>((done) => server.on('exit', (code) => done(code)));
        const connection = createProtocolConnection(
            new StreamMessageReader(server.stdout),
            new StreamMessageWriter(server.stdin),
        );
        const uri = pathToFileURL(file).href;
        const published = new Promise<PublishDiagnosticsParams>((done) => {
            connection.onNotification(PublishDiagnosticsNotification.type, (params) => {
                if (params.uri === uri) {
                    done(params);
                }
            });
        });
        connection.listen();
        const timer = setTimeout(() => server.kill(), TIMEOUT_MS);
        try {
            const init = await connection.sendRequest(InitializeRequest.type, {
                processId: process.pid,
                rootUri: pathToFileURL(project).href,
                workspaceFolders: [{ uri: pathToFileURL(project).href, name: 'project' }],
                capabilities: {},
                initializationOptions: { ...settings, knowledgeBase: [KB], debounceMs: 0 },
            });
            assert.equal(init.serverInfo?.name, 'recode-lsp');
            await connection.sendNotification(InitializedNotification.type, {});
            await connection.sendNotification(DidOpenTextDocumentNotification.type, {
                textDocument: { uri, languageId: 'python', version: 1, text: SAMPLE },
            });
            const params = await published;
            assert.equal(params.version, 1);
            const range = (line: number, start: number, end: number) => ({
                start: { line, character: start },
                end: { line, character: end },
            });
            const have = '(this environment has numpy 2.0.0)';
            const guide = 'https://numpy.org/devdocs/numpy_2_0_migration_guide.html';
            assert.deepEqual(params.diagnostics, [
                {
                    range: range(2, 8, 18),
                    message: `\`numpy.product\` was removed in numpy 2.0.0 ${have}. Use numpy.prod.`,
                    severity: 1,
                    code: 'numpy-2.0-product',
                    codeDescription: { href: guide },
                    source: 'recode',
                    data: { fixable: true },
                },
                {
                    // the emoji is two UTF-16 code units: LSP's default column unit
                    range: range(3, 21, 40),
                    message:
                        `\`numpy.find_common_type\` was removed in numpy 2.0.0 ${have}. ` +
                        'Use numpy.result_type or numpy.promote_types.',
                    severity: 1,
                    code: 'numpy-2.0-find_common_type',
                    codeDescription: { href: guide },
                    source: 'recode',
                    data: { fixable: false },
                },
                {
                    range: range(4, 7, 15),
                    message: `\`numpy.trapz\` is deprecated since numpy 2.0.0 ${have}. Use numpy.trapezoid.`,
                    severity: 2,
                    code: 'numpy-2.0-trapz',
                    codeDescription: { href: 'https://numpy.org/devdocs/release/2.0.0-notes.html' },
                    source: 'recode',
                    tags: [2],
                    data: { fixable: true },
                },
            ]);
            await connection.sendRequest(ShutdownRequest.type);
            await connection.sendNotification(ExitNotification.type);
            assert.equal(await exited, 0, stderr);
        } finally {
            clearTimeout(timer);
            connection.dispose();
            server.kill();
            rmSync(root, { recursive: true, force: true });
        }
    });
});
