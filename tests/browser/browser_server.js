// One Chromium for a whole pytest session: Playwright's launchServer, from the Node driver that
// ships inside the Python package. argv[2]: the package path; argv[3]: launch options (JSON).
// Prints the WebSocket endpoint on stdout, closes the browser when stdin closes.
const { chromium } = require(process.argv[2]);

(async () => {
  const server = await chromium.launchServer(JSON.parse(process.argv[3]));
  process.stdout.write(server.wsEndpoint() + "\n");
  process.stdin.resume();
  process.stdin.on("end", async () => {
    await server.close();
    process.exit(0);
  });
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
