// What every route plugin of the API gets: the dependencies, resolved settings, and the helpers
// built once per app.
import type { ApiSettings } from './api-settings.js';
import type { LoginThrottle } from './auth/login-throttle.js';
import type { ApiDeps } from './deps.js';
import type { EntityEvents } from './entity-events.js';

export interface ApiContext {
  readonly deps: ApiDeps;
  readonly settings: ApiSettings;
  readonly events: EntityEvents;
  readonly throttle: LoginThrottle;
}
