// Starts the page modules a template names with <script type="module" src="/static/js/boot.js"
// data-start="NAME">: each is imported and its init() called, in document order. Templates
// carry no inline script, so the Content-Security-Policy can say script-src 'self'. A module
// that fails to load is reported and does not stop the others.
const NAME = /^[a-z]+$/;

const names = [...document.querySelectorAll("script[data-start]")]
  .map((tag) => tag.dataset.start)
  .filter((name) => NAME.test(name));
const loaded = await Promise.allSettled(names.map((name) => import(`/static/js/${name}.js`)));
loaded.forEach((result, i) => {
  if (result.status === "fulfilled") result.value.init();
  else console.error(`could not start ${names[i]}.js`, result.reason);
});
