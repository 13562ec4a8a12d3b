// The memory profile in the editor: after "LeakLens: Profile Memory…", an end-of-line annotation
// (a decoration's `after` text) on every profiled line that allocated or holds memory, such as
// "+7.6 MiB alloc · 0 B held · peak 7.7 MiB", with the line's numbers in its hover.
// The annotations belong to the text that was run: a file's are shown only while the editor's
// text is the text the profile was taken from (read from disk when the report arrives), set again
// when an editor of the file becomes visible, and dropped for good once the document is edited
// (moved lines would carry numbers that are not theirs). "LeakLens: Clear Memory Profile" removes them.
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { formatBytes, profileAnnotation, profileLineShown } from '../../server/src/runtime/format';
import { ProfileLine, RuntimeReport } from '../../server/src/runtime/report';

/** One annotation as shown (the test hook returns these). */
export interface ShownAnnotation {
  /** 1-based line. */
  line: number;
  text: string;
}

interface FileProfile {
  /** The file's text when the report arrived: the annotations hold only for it. */
  text: string | undefined;
  lines: ProfileLine[];
}

export class ProfileAnnotations implements vscode.Disposable {
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor('editorCodeLens.foreground'),
      fontStyle: 'italic',
      margin: '0 0 0 2.5em',
    },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  /** Per document URI (string). */
  private readonly files = new Map<string, FileProfile>();
  /** What each visible editor shows, per document URI. */
  private readonly shown = new Map<string, ShownAnnotation[]>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly mapUri: (file: string) => vscode.Uri) {
    this.subscriptions.push(
      this.decoration,
      vscode.window.onDidChangeVisibleTextEditors((editors) => {
        // A hidden editor loses its decorations: the next one of the document gets them again.
        const visible = new Set(editors.map((e) => e.document.uri.toString()));
        for (const key of [...this.shown.keys()]) if (!visible.has(key)) this.shown.delete(key);
        for (const editor of editors) this.apply(editor);
      }),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (!event.contentChanges.length) return;
        const key = event.document.uri.toString();
        if (!this.files.has(key)) return;
        this.files.delete(key);
        this.hide(key);
      }),
    );
  }

  /** Annotates the lines of a profile report (replacing the previous profile). */
  show(report: RuntimeReport): void {
    this.clear();
    const byFile = new Map<string, ProfileLine[]>();
    for (const line of report.profile?.lines ?? []) {
      if (!profileLineShown(line)) continue;
      byFile.set(line.file, [...(byFile.get(line.file) ?? []), line]);
    }
    for (const [file, lines] of byFile) {
      let text: string | undefined;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        text = undefined;
      }
      this.files.set(this.mapUri(file).toString(), { text, lines });
    }
    for (const editor of vscode.window.visibleTextEditors) this.apply(editor);
  }

  clear(): void {
    const keys = [...this.files.keys(), ...this.shown.keys()];
    this.files.clear();
    for (const key of keys) this.hide(key);
  }

  /** The annotations the visible editors show, per document URI (the test hook): what was given
   * to their setDecorations. The editor events may still be on their way when it is asked, so
   * the visible editors are brought up to date first, as those events would. */
  current(): Record<string, ShownAnnotation[]> {
    const visible = new Set<string>();
    for (const editor of vscode.window.visibleTextEditors) {
      const key = editor.document.uri.toString();
      visible.add(key);
      if (this.files.has(key) && !this.shown.has(key)) this.apply(editor);
    }
    return Object.fromEntries([...this.shown].filter(([key]) => visible.has(key)));
  }

  private apply(editor: vscode.TextEditor): void {
    const key = editor.document.uri.toString();
    const profile = this.files.get(key);
    if (!profile) return;
    if (profile.text === undefined || !sameText(editor.document.getText(), profile.text)) {
      // The text that was run is not the text shown: the numbers would sit on the wrong lines.
      this.files.delete(key);
      this.hide(key);
      return;
    }
    const options: vscode.DecorationOptions[] = [];
    const shown: ShownAnnotation[] = [];
    for (const line of profile.lines) {
      if (line.line < 1 || line.line > editor.document.lineCount) continue;
      const end = editor.document.lineAt(line.line - 1).range.end;
      const text = profileAnnotation(line);
      const hover = new vscode.MarkdownString(
        `**LeakLens memory profile** (${line.function}, line ${line.line})\n\n` +
          `- hits: ${line.hits}\n- allocated while it ran: ${formatBytes(line.allocated)}\n` +
          `- held after the calls: ${formatBytes(line.held)}\n- peak while it ran: ${formatBytes(line.peak)}`,
      );
      options.push({ range: new vscode.Range(end, end), hoverMessage: hover, renderOptions: { after: { contentText: text } } });
      shown.push({ line: line.line, text });
    }
    editor.setDecorations(this.decoration, options);
    this.shown.set(key, shown);
  }

  private hide(key: string): void {
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() === key) editor.setDecorations(this.decoration, []);
    }
    this.shown.delete(key);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}

/** The same text, whatever the line ends (an editor may show CRLF text with LF, or the reverse). */
function sameText(a: string, b: string): boolean {
  return a === b || a.replace(/\r\n?/g, '\n') === b.replace(/\r\n?/g, '\n');
}
