// Scalar's browser bundle, imported `with { type: 'file' }` (a path to the embedded file), which TypeScript does not model.
declare module '@scalar/api-reference/browser/standalone.js' {
  const path: string
  export default path
}
