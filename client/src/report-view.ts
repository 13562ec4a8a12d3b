// The run-time report view: a webview panel showing report-page.ts's page for the last run.
// A click on a node's allocation link posts the link here and the file opens at the line — only
// links the current page drew are followed, and only to files on disk.
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { parseLocationUrl } from '../../server/src/runtime/graph';
import { RuntimeReport } from '../../server/src/runtime/report';
import { renderPage, ReportViewState } from './report-page';

export type { ReportViewState } from './report-page';
export const REPORT_VIEW_TYPE = 'leaklens.runtimeReport';

export class ReportView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  /** The links the current page holds: the only ones a message may open. */
  private links = new Set<string>();

  constructor(private readonly mapUri: (file: string) => vscode.Uri) {}

  async show(report: RuntimeReport, base: string, reveal = true): Promise<ReportViewState> {
    const { html, state, links } = await renderPage(report, base);
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(REPORT_VIEW_TYPE, 'LeakLens Run Report', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
        enableScripts: true,
        enableFindWidget: true,
        localResourceRoots: [],
      });
      this.panel.onDidDispose(() => (this.panel = undefined));
      this.panel.webview.onDidReceiveMessage((message: unknown) => void this.onMessage(message));
    } else if (reveal) {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
    }
    this.links = links;
    this.panel.webview.html = html;
    return state;
  }

  /** A new run while the view is open: show it there (an open view never shows an older run). */
  async refresh(report: RuntimeReport, base: string): Promise<void> {
    if (this.panel) await this.show(report, base, false);
  }

  private async onMessage(message: unknown): Promise<void> {
    const url = (message as { type?: string; url?: unknown })?.type === 'open' ? (message as { url: unknown }).url : undefined;
    if (typeof url !== 'string' || !this.links.has(url)) return;
    const target = parseLocationUrl(url);
    if (!target || !existsSync(target.file)) {
      void vscode.window.showWarningMessage(`LeakLens: ${target?.file ?? url} is not on disk any more.`);
      return;
    }
    const document = await vscode.workspace.openTextDocument(this.mapUri(target.file));
    const line = Math.min(target.line - 1, Math.max(0, document.lineCount - 1));
    const range = new vscode.Range(line, 0, line, 0);
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.One, selection: range, preserveFocus: false });
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

