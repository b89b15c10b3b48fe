import { defineConfig } from "vite";

// Served by the control plane under /dashboard/; fixed file names so the C++ build can
// list the embedded files explicitly (mesh/dashboard/CMakeLists.txt).
export default defineConfig({
  base: "/dashboard/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      output: {
        entryFileNames: "assets/app.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/app[extname]",
      },
    },
  },
  server: {
    // `npm run dev` against a running control plane: CP=127.0.0.1:15010 npm run dev
    proxy: { "/dashboard/api": `http://${process.env.CP ?? "127.0.0.1:15010"}` },
  },
});
