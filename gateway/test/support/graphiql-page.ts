/** Reading GraphiQL's page in the gateway's browser tests (gateway/test/graphiql*.e2e.test.ts). */
import type { Page } from 'playwright-core';

/** The visible editor of the tools pane (variables are hidden; the page opens on headers). */
export const HEADERS_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden)';

/** Text of a GraphiQL CodeMirror editor (query, headers or response), or the element's own text. */
export async function editorText(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => {
    const cm = (el.querySelector('.CodeMirror') as unknown as { CodeMirror?: { getValue(): string } } | null)
      ?.CodeMirror;
    return cm ? cm.getValue() : (el.textContent ?? '');
  });
}

/** Replaces the text of the CodeMirror editor inside `selector`, as typing would. */
export async function setEditorText(page: Page, selector: string, text: string): Promise<void> {
  await page.$eval(
    `${selector} .CodeMirror`,
    (el, value) =>
      (el as unknown as { CodeMirror: { setValue(v: string): void } }).CodeMirror.setValue(value),
    text,
  );
}
