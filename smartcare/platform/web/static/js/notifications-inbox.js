/* The notification inbox (notifications_inbox.html): new notifications arrive over a WebSocket while the page is
   open and are put at the top of the list; without it a reload shows them. */
(() => {
  const list = document.getElementById("inbox-list");
  const unread = document.getElementById("inbox-unread");
  if (!list || !unread) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/notifications`);
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type !== "notification") return;
    const n = message.notification;
    const item = document.createElement("li");
    item.className = "notification notification--unread";
    const article = document.createElement("article");
    const title = document.createElement("strong");
    // A notice's link leads on (a fall alert to the emergency card); only paths within SmartCare, as stored.
    const link = n.link;
    if (typeof link === "string" && link.startsWith("/") && !link.startsWith("//") && !link.includes("\\")) {
      const anchor = document.createElement("a");
      anchor.href = link;
      anchor.textContent = n.title;
      title.append(anchor);
    } else {
      title.textContent = n.title;
    }
    const body = document.createElement("p");
    body.textContent = n.body;
    article.append(title, body);
    item.append(article);
    list.prepend(item);
    document.getElementById("inbox-empty")?.remove();
    const count = Number(unread.dataset.unread) + 1;
    unread.dataset.unread = count;
    unread.querySelector("strong").textContent = count;
  });
})();
