/**
 * The command line that starts the ReCode language server. Pure logic (no `vscode` import).
 */

import { DEFAULTS, expandPath, type PathContext } from './settings';

/**
 * The documents the server is given: Python files, unsaved Python editors, and the Python cells
 * of Jupyter notebooks (sent as notebook documents, whose cells the server analyses as one
 * module).
 */
export const DOCUMENT_SELECTOR = [
    { scheme: 'file', language: 'python' },
    { scheme: 'untitled', language: 'python' },
    { notebook: 'jupyter-notebook', language: 'python' },
] as const;

/** The module run with `python -m`; the same server as the `recode-lsp` script. */
export const SERVER_MODULE = 'recode.server.lsp';

export interface ServerCommand {
    command: string;
    args: string[];
    /** Working directory: the first workspace folder, when there is one. */
    cwd?: string;
}

/**
 * `<serverPython> -m recode.server.lsp`: `serverPython` is the interpreter where ReCode is
 * installed (setting `recode.serverPython`), which need not be the user's project interpreter
 * (`recode.python`, sent to the server as a setting). `${workspaceFolder}`, `${userHome}` and a
 * leading `~` are expanded; an unset or blank value means "python3". The interpreter is run
 * directly, never through a shell, so a path with spaces needs no quoting.
 */
export function buildServerCommand(serverPython: unknown, ctx: PathContext = {}): ServerCommand {
    const raw = typeof serverPython === 'string' ? serverPython.trim() : '';
    const command = expandPath(raw === '' ? DEFAULTS.serverPython : raw, ctx);
    const result: ServerCommand = { command, args: ['-m', SERVER_MODULE] };
    if (ctx.workspaceFolder !== undefined) {
        result.cwd = ctx.workspaceFolder;
    }
    return result;
}

/** The command line as one string, quoted for display in logs and error messages. */
export function describeCommand(cmd: ServerCommand): string {
    const quote = (part: string): string =>
        /^[A-Za-z0-9_./:=@+-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`;
    return [cmd.command, ...cmd.args].map(quote).join(' ');
}
