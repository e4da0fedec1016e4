/**
 * SDK size: builds the visitor SDK and the widget as shipped (minified IIFE) and reports bytes
 * and gzip bytes against the SDK's budget (9 KB minified, a hard limit in the build) and its
 * target (6 KB minified, 2.5 KB gzip).
 */
import { buildSdk, SDK_BUDGET_BYTES, SDK_TARGET } from '../build-sdk'
import type { SectionResult } from './lib'

const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`
const pct = (n: number, of: number) => `${((n / of) * 100).toFixed(0)}%`

/** Runs the section; returns its Markdown and target. */
export async function benchSdkSize(): Promise<SectionResult> {
  const { sdk, widget } = await buildSdk()
  const within = sdk.bytes <= SDK_TARGET.minified && sdk.gzipBytes <= SDK_TARGET.gzip
  const markdown = [
    '### SDK size (minified IIFE, gzip -9)',
    '',
    '| file | minified | gzip | minified vs target | gzip vs target | minified vs budget |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    `| ${sdk.name} | ${kb(sdk.bytes)} | ${kb(sdk.gzipBytes)} | ${pct(sdk.bytes, SDK_TARGET.minified)} of ${kb(SDK_TARGET.minified)} | ${pct(sdk.gzipBytes, SDK_TARGET.gzip)} of ${kb(SDK_TARGET.gzip)} | ${pct(sdk.bytes, SDK_BUDGET_BYTES)} of ${kb(SDK_BUDGET_BYTES)} |`,
    `| ${widget.name} (loaded on demand) | ${kb(widget.bytes)} | ${kb(widget.gzipBytes)} | - | - | - |`,
    '',
    `The SDK is ${within ? 'within' : 'OVER'} its target; the build refuses anything over the budget.`,
  ].join('\n')
  return {
    markdown,
    checks: [
      {
        what: `${sdk.name} size`,
        figure: `${kb(sdk.bytes)} minified, ${kb(sdk.gzipBytes)} gzip`,
        target: `<= ${kb(SDK_TARGET.minified)}, <= ${kb(SDK_TARGET.gzip)} gzip`,
        met: within,
      },
    ],
  }
}
