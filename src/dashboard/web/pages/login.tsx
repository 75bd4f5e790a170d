// Sign in: POST /api/auth/login {username, password} → {token, refreshToken}.
import type { AppContext } from '../context.js';
import { h } from '../dom.js';

export function loginPage(ctx: AppContext, onSignedIn: () => Promise<void>, notice?: string): Element {
  let username!: HTMLInputElement;
  let password!: HTMLInputElement;
  let button!: HTMLButtonElement;
  let error!: HTMLElement;

  const submit = async () => {
    error.textContent = '';
    if (username.value.trim() === '' || password.value === '') {
      error.textContent = 'E-mail and password are needed.';
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    const r = await ctx.api.call<{ token: string }>('POST', '/api/auth/login', { username: username.value.trim(), password: password.value });
    button.disabled = false;
    button.textContent = 'Sign in';
    if (!r.ok || r.body === null || typeof r.body.token !== 'string') {
      error.textContent = r.status === 401 ? 'Wrong e-mail or password.' : (r.error ?? `Sign-in failed (${r.status}).`);
      password.select();
      return;
    }
    ctx.session.signIn(r.body.token);
    password.value = '';
    await onSignedIn();
  };

  return (
    <div class="login-page">
      <form
        class="card login"
        novalidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <h1>rpc-chains</h1>
        <p class="muted">Device RPC and rule chains, the ThingsBoard way.</p>
        {notice ? <p class="notice">{notice}</p> : null}
        <label class="field">
          <span class="label">E-mail</span>
          <input name="username" type="email" autocomplete="username" required ref={(i) => (username = i as HTMLInputElement)} />
        </label>
        <label class="field">
          <span class="label">Password</span>
          <input name="password" type="password" autocomplete="current-password" required ref={(i) => (password = i as HTMLInputElement)} />
        </label>
        <p class="form-error" role="alert" ref={(p) => (error = p as HTMLElement)}></p>
        <button type="submit" class="primary" ref={(b) => (button = b as HTMLButtonElement)}>
          Sign in
        </button>
      </form>
    </div>
  );
}
