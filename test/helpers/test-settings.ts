import { DEFAULT_SETTINGS, type Settings } from '../../src/config/settings.js';

/** Settings for a system started by a test: every port picked free, quiet logs. */
export function testSettings(overrides: Partial<Settings> = {}): Settings {
  return { ...DEFAULT_SETTINGS, httpPort: 0, mqttPort: 0, coapPort: 0, host: '127.0.0.1', logLevel: 'silent', demo: false, ...overrides };
}
