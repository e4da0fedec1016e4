// The SDK build's output, imported as text (`with { type: 'text' }`), which TypeScript does not model.
declare module '*/sdk/dist/mlc-visitor-sdk.js' {
  const text: string
  export default text
}
declare module '*/sdk/dist/mlc-widget.js' {
  const text: string
  export default text
}
