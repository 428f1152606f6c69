import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { TableHead } from './ui';

describe('TableHead', () => {
  it('renders the header row the screens used to write out by hand', () => {
    const html = renderToStaticMarkup(
      createElement(TableHead, {
        columns: ['Time', 'Quantity', 'P&L'],
        numeric: ['Quantity', 'P&L'],
        actions: true,
      }),
    );
    expect(html).toBe(
      '<thead><tr><th scope="col">Time</th><th scope="col" class="num">Quantity</th>' +
        '<th scope="col" class="num">P&amp;L</th>' +
        '<th scope="col"><span class="sr-only">Actions</span></th></tr></thead>',
    );
    expect(renderToStaticMarkup(createElement(TableHead, { columns: ['Month'] }))).toBe(
      '<thead><tr><th scope="col">Month</th></tr></thead>',
    );
  });
});
