/**
 * VS Code glue: starts recode-lsp through vscode-languageclient and wires the settings and
 * commands. Kept thin; the decisions live in settings.ts, serverCommand.ts and migrate.ts, which
 * are unit-tested without VS Code.
 */

import * as os from 'node:os';
import * as vscode from 'vscode';
import {
    DidChangeConfigurationNotification,
    ExecuteCommandRequest,
    LanguageClient,
    type LanguageClientOptions,
    type LSPAny,
    type ServerOptions,
    TransportKind,
} from 'vscode-languageclient/node';

import {
    MIGRATE_COMMAND,
    migrateFileParams,
    RESTART_COMMAND,
    resolveMigrateTarget,
    withoutOwnedCommands,
} from './migrate';
import { buildServerCommand, DOCUMENT_SELECTOR, describeCommand } from './serverCommand';
import {
    answerConfiguration,
    needsRestart,
    normalizeSettings,
    type PathContext,
    SECTION,
    type ServerSettings,
} from './settings';

let client: LanguageClient | undefined;
let output: vscode.LogOutputChannel | undefined;
const warned = new Set<string>();

function pathContext(scope?: vscode.Uri): PathContext {
    const folder =
        scope !== undefined
            ? vscode.workspace.getWorkspaceFolder(scope)
            : vscode.workspace.workspaceFolders?.[0];
    return { workspaceFolder: folder?.uri.fsPath, homeDir: os.homedir() };
}

function settingsFor(scope?: vscode.Uri): ServerSettings {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    const { settings, warnings } = normalizeSettings((key) => config.get(key), pathContext(scope));
    for (const warning of warnings) {
        if (!warned.has(warning)) {
            warned.add(warning);
            output?.warn(warning);
        }
    }
    return settings;
}

/** Keeps the client from registering VS Code commands the extension already registered. */
function skipOwnedCommands(lc: LanguageClient): void {
    const feature = lc.getFeature(ExecuteCommandRequest.method);
    const register = feature.register.bind(feature);
    feature.register = (data) =>
        register({
            ...data,
            registerOptions: {
                ...data.registerOptions,
                commands: withoutOwnedCommands(data.registerOptions.commands),
            },
        });
}

async function startClient(): Promise<void> {
    const log = output as vscode.LogOutputChannel;
    const cmd = buildServerCommand(
        vscode.workspace.getConfiguration(SECTION).get('serverPython'),
        pathContext(),
    );
    const serverOptions: ServerOptions = {
        command: cmd.command,
        args: cmd.args,
        transport: TransportKind.stdio,
        options: cmd.cwd !== undefined ? { cwd: cmd.cwd } : {},
    };
    const clientOptions: LanguageClientOptions = {
        documentSelector: [...DOCUMENT_SELECTOR],
        outputChannel: log,
        initializationOptions: () => settingsFor(),
        synchronize: { configurationSection: SECTION },
        middleware: {
            workspace: {
                configuration: (params) =>
                    answerConfiguration(params.items, (scopeUri) =>
                        settingsFor(scopeUri !== undefined ? vscode.Uri.parse(scopeUri) : undefined),
                    ) as LSPAny[],
                didChangeConfiguration: async () => {
                    await client?.sendNotification(DidChangeConfigurationNotification.type, {
                        settings: { [SECTION]: settingsFor() },
                    });
                },
            },
        },
    };
    const lc = new LanguageClient('recode', 'ReCode', serverOptions, clientOptions);
    skipOwnedCommands(lc);
    client = lc;
    log.info(`Starting the ReCode language server: ${describeCommand(cmd)}`);
    try {
        await lc.start();
    } catch (error) {
        log.error(`The ReCode language server did not start: ${String(error)}`);
        void vscode.window.showErrorMessage(
            `ReCode: could not start "${describeCommand(cmd)}". Set "recode.serverPython" to ` +
                'an interpreter where recode-migrate is installed.',
        );
    }
}

async function stopClient(): Promise<void> {
    const lc = client;
    client = undefined;
    if (lc !== undefined) {
        try {
            await lc.dispose();
        } catch (error) {
            output?.warn(`Stopping the ReCode language server: ${String(error)}`);
        }
    }
}

async function restartClient(): Promise<void> {
    await stopClient();
    await startClient();
}

async function migrateFile(...args: unknown[]): Promise<unknown> {
    const editor = vscode.window.activeTextEditor;
    const target = resolveMigrateTarget(
        args,
        editor !== undefined
            ? { uri: editor.document.uri.toString(), languageId: editor.document.languageId }
            : undefined,
    );
    if (!target.ok) {
        void vscode.window.showWarningMessage(target.message);
        return undefined;
    }
    if (client === undefined || !client.isRunning()) {
        void vscode.window.showErrorMessage('ReCode: the language server is not running.');
        return undefined;
    }
    try {
        return await client.sendRequest(ExecuteCommandRequest.type, migrateFileParams(target.uri));
    } catch (error) {
        output?.error(`${MIGRATE_COMMAND} failed: ${String(error)}`);
        void vscode.window.showErrorMessage(`ReCode: migrating the file failed: ${String(error)}`);
        return undefined;
    }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    output = vscode.window.createOutputChannel('ReCode', { log: true });
    context.subscriptions.push(
        output,
        vscode.commands.registerCommand(MIGRATE_COMMAND, migrateFile),
        vscode.commands.registerCommand(RESTART_COMMAND, restartClient),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (needsRestart((section) => event.affectsConfiguration(section))) {
                void restartClient();
            }
        }),
    );
    await startClient();
}

export async function deactivate(): Promise<void> {
    await stopClient();
}
