/* New articles for the signed-in patient while a news page or the app home is open (news/_live.html): they
   arrive on /ws/notifications (kinds "news" and "news.alert") and show in #news-live with their link; text is
   set with textContent and the link must be a path within SmartCare. Reconnects with a growing delay. */
(() => {
  "use strict";
  const box = document.getElementById("news-live");
  const link = document.getElementById("news-live-link");
  if (!box || !link || !("WebSocket" in window)) { return; }
  const isOwnPath = (path) => typeof path === "string" && path.startsWith("/") && !path.startsWith("//") && !path.includes("\\");
  let delay = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/notifications`);
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (error) { return; }
      if (message.type === "hello") { delay = 1000; box.dataset.live = "true"; return; }
      const notice = message.notification || {};
      if (message.type !== "notification" || !["news", "news.alert"].includes(notice.kind) || !isOwnPath(notice.link)) { return; }
      link.textContent = notice.title || "";
      link.href = notice.link;
      box.querySelector("article").className = notice.kind === "news.alert" ? "news-alert" : "notice-ok";
      box.setAttribute("aria-live", notice.kind === "news.alert" ? "assertive" : "polite");
      box.hidden = false;
    });
    socket.addEventListener("close", (event) => {
      box.dataset.live = "false";
      if (event.code === 1008) { return; }
      window.setTimeout(connect, delay * (0.75 + Math.random() * 0.5));
      delay = Math.min(delay * 2, 30000);
    });
  }
  connect();
})();
