// Entry point: styles, screens, then the app shell.

import "./style.css";
import "./screens/journals";
import "./screens/grid";
import "./screens/signin";
import "./screens/modules";
import "./screens/groups";
import "./screens/inbox";
import "./screens/reports";
import { app } from "./app";

const root = document.querySelector<HTMLDivElement>("#app");
if (root) {
  app.start(root).catch((e) => {
    console.error("Daftar failed to start", e);
    root.textContent = String(e);
  });
}
