/** Build identity. `scripts/build.ts` replaces these through `--define` in the compiled binary. */
declare const MLC_BUILD_VERSION: string | undefined
declare const MLC_BUILD_COMMIT: string | undefined
declare const MLC_BUILD_DATE: string | undefined

export const VERSION = typeof MLC_BUILD_VERSION === 'string' ? MLC_BUILD_VERSION : '0.1.0-dev'
export const COMMIT = typeof MLC_BUILD_COMMIT === 'string' ? MLC_BUILD_COMMIT : 'unknown'
export const BUILD_DATE = typeof MLC_BUILD_DATE === 'string' ? MLC_BUILD_DATE : 'unbuilt'
