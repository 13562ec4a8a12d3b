// The VS Code side: a thin language client that starts the bundled server (dist/leaklens.js)
// for Python documents. Everything that analyses code lives in the server.
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const module = context.asAbsolutePath('dist/leaklens.js');
  const serverOptions: ServerOptions = {
    run: { module, args: ['server'], transport: TransportKind.stdio },
    debug: { module, args: ['server'], transport: TransportKind.stdio, options: { execArgv: ['--nolazy', '--inspect=6012'] } },
  };
  const outputChannel = vscode.window.createOutputChannel('LeakLens', { log: true });
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'python' },
      { scheme: 'untitled', language: 'python' },
    ],
    outputChannel,
  };
  client = new LanguageClient('leaklens', 'LeakLens', serverOptions, clientOptions);
  context.subscriptions.push(outputChannel);
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
