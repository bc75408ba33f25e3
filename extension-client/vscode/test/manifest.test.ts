/**
 * package.json (the extension manifest) against the code: the settings it contributes, their
 * defaults, the commands, and the version constraints vsce checks when packaging.
 */

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { CLIENT_OWNED_COMMANDS, MIGRATE_COMMAND } from '../src/migrate';
import { DEFAULTS, normalizeSettings, SERVER_SETTING_KEYS, SEVERITIES } from '../src/settings';

const root = join(__dirname, '..', '..');

interface Property {
    type: string;
    default: unknown;
    description?: string;
    markdownDescription?: string;
    enum?: string[];
    items?: { type: string; pattern?: string };
    scope?: string;
}

interface Manifest {
    main: string;
    engines: { vscode: string };
    activationEvents: string[];
    devDependencies: Record<string, string>;
    scripts: Record<string, string>;
    capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
    contributes: {
        commands: { command: string; title: string; category?: string }[];
        configuration: { properties: Record<string, Property> };
    };
}

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
const properties = manifest.contributes.configuration.properties;

/** "^1.91.0" or "~1.91.0" or "1.91.0" -> [1, 91, 0]. */
function version(spec: string): number[] {
    const match = /(\d+)\.(\d+)\.(\d+)/.exec(spec);
    assert.ok(match, `no version in ${spec}`);
    return [Number(match[1]), Number(match[2]), Number(match[3])];
}

function compare(a: number[], b: number[]): number {
    for (let i = 0; i < 3; i++) {
        const d = (a[i] ?? 0) - (b[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}

describe('package.json', () => {
    it('contributes every server setting with a description and the code default', () => {
        for (const key of SERVER_SETTING_KEYS) {
            const property = properties[`recode.${key}`];
            assert.ok(property, `recode.${key} is not contributed`);
            assert.ok(property.description ?? property.markdownDescription, `recode.${key}`);
            assert.deepEqual(property.default, DEFAULTS[key], `default of recode.${key}`);
        }
        assert.equal(properties['recode.serverPython']?.default, DEFAULTS.serverPython);
        assert.deepEqual(properties['recode.minSeverity']?.enum, [...SEVERITIES]);
    });

    it('contributes nothing under recode. that the code does not know', () => {
        const known = new Set([
            ...SERVER_SETTING_KEYS.map((k) => `recode.${k}`),
            'recode.serverPython',
            'recode.trace.server',
        ]);
        assert.deepEqual(
            Object.keys(properties).filter((k) => !known.has(k)),
            [],
        );
    });

    it('keeps the interpreters out of untrusted workspace settings', () => {
        assert.deepEqual(
            [...manifest.capabilities.untrustedWorkspaces.restrictedConfigurations].sort(),
            ['recode.python', 'recode.serverPython'],
        );
        assert.notEqual(properties['recode.serverPython']?.scope, 'resource');
    });

    it('declares the commands the extension registers, as "ReCode: ..."', () => {
        const contributed = manifest.contributes.commands;
        for (const id of CLIENT_OWNED_COMMANDS) {
            const command = contributed.find((c) => c.command === id);
            assert.ok(command, `${id} is not contributed`);
            assert.equal(command.category, 'ReCode');
        }
        const migrate = contributed.find((c) => c.command === MIGRATE_COMMAND);
        assert.equal(`${migrate?.category}: ${migrate?.title}`.toLowerCase(), 'recode: migrate file');
    });

    it('has a target pattern that agrees with the code', () => {
        const pattern = properties['recode.targets']?.items?.pattern;
        assert.ok(pattern);
        const manifestRe = new RegExp(pattern);
        const samples = [
            'numpy==2.0',
            'pandas == 2.2.3',
            'scikit-learn==1.5.0rc1',
            'torch==2.13.0+cpu',
            'numpy>=2',
            'numpy',
            '==2.0',
            'numpy==',
            'a b==1',
        ];
        for (const sample of samples) {
            const kept = normalizeSettings((key) => (key === 'targets' ? [sample] : undefined))
                .settings.targets;
            assert.equal(manifestRe.test(sample), kept.length === 1, `"${sample}"`);
        }
    });

    it('starts the bundle on Python files and Jupyter notebooks', () => {
        assert.equal(manifest.main, './dist/extension.js');
        assert.ok(manifest.activationEvents.includes('onLanguage:python'));
        assert.ok(manifest.activationEvents.includes('onNotebook:jupyter-notebook'));
    });

    it('asks for a VS Code at least as new as the language client and its types', () => {
        const client = JSON.parse(
            readFileSync(join(root, 'node_modules', 'vscode-languageclient', 'package.json'), 'utf8'),
        ) as { engines: { vscode: string } };
        const engine = version(manifest.engines.vscode);
        assert.ok(compare(engine, version(client.engines.vscode)) >= 0, 'older than the client');
        const types = version(manifest.devDependencies['@types/vscode'] ?? '');
        // vsce refuses to package when @types/vscode is newer than engines.vscode.
        assert.ok(compare(types, engine) <= 0, '@types/vscode newer than engines.vscode');
    });

    it('packages with the vsce of the lock file, so `npm run package` works offline', () => {
        assert.ok(manifest.devDependencies['@vscode/vsce'], '@vscode/vsce is no devDependency');
        assert.ok(existsSync(join(root, 'node_modules', '@vscode', 'vsce', 'package.json')));
        assert.match(manifest.scripts.package ?? '', /&& vsce package --no-dependencies /);
        assert.doesNotMatch(manifest.scripts.package ?? '', /\bnpx\b/);
    });
});
