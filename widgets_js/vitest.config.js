import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    environment: 'happy-dom',
    environmentOptions: {
      happyDOM: {
        url: 'https://shop.test/demo/',
        // Chunks are registered by the tests themselves; never fetch a script.
        settings: { disableJavaScriptFileLoading: true, handleDisabledFileLoadingAsSuccess: true },
      },
    },
    restoreMocks: true,
    setupFiles: ['test/setup.js'],
  },
})
