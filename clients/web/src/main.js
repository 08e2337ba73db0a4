// main.js: the page's entry point (bundled by esbuild into crp-web.js).
// The UI (src/ui/) takes over #app.
