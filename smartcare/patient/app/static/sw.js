/* SmartCare app service worker: the shell and first aid from the cache, the health record summary network first
   (kept per signed-in account), and an offline page for everything else. */
"use strict";

const PREFIX = "smartcare-app-";
const SHELL = PREFIX + "shell-__VERSION__";
const RECORDS = PREFIX + "record-";
const WHO = PREFIX + "who";
const WHO_URL = "/app/shell/who";
const RECORD_PATH = "/app/record";
const FIRST_AID = "/app/first-aid";
const PRECACHE = __PRECACHE__;
const PRECACHED = new Set(PRECACHE);
const OFFLINE = __OFFLINE__;

self.addEventListener("install", (event) => {
  // Cookies are left out so that storing the public pages never changes the reader's language choice.
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL);
    await Promise.all(PRECACHE.map(async (url) => {
      const response = await fetch(new Request(url, { credentials: "omit", cache: "reload" }));
      if (!response.ok) throw new Error(`could not pre-cache ${url}: ${response.status}`);
      await cache.put(url, response);
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name.startsWith(PREFIX + "shell-") && name !== SHELL)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

async function clearRecords() {
  const names = await caches.keys();
  await Promise.all(names.filter((name) => name.startsWith(RECORDS) || name === WHO).map((name) => caches.delete(name)));
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "signed-out") event.waitUntil(clearRecords());
});

function language(url) {
  const asked = url.searchParams.get("lang");
  if (asked && OFFLINE[asked]) return asked;
  return (self.navigator.language || "").toLowerCase().startsWith("zh") ? "zh-Hans" : "en";
}

async function offlinePage(url) {
  const cache = await caches.open(SHELL);
  return (await cache.match(OFFLINE[language(url)], { ignoreVary: true }))
    || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
}

async function knownAccount() {
  const stored = await (await caches.open(WHO)).match(WHO_URL);
  return stored ? (await stored.json()).key : null;
}

async function keepRecord(place, response) {
  const who = await fetch(WHO_URL, { credentials: "same-origin", cache: "no-store" });
  if (!who.ok || who.redirected || !(who.headers.get("Content-Type") || "").includes("json")) return;
  const { key } = await who.json();
  const known = await knownAccount();
  if (known !== key) await clearRecords();  // another account signed in: never keep two people's pages
  await (await caches.open(WHO)).put(WHO_URL, new Response(JSON.stringify({ key }),
    { headers: { "Content-Type": "application/json" } }));
  await (await caches.open(RECORDS + key)).put(place, response);
}

async function recordNetworkFirst(request, url) {
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const key = await knownAccount();
    if (key) {
      const cache = await caches.open(RECORDS + key);
      const hit = await cache.match(request, { ignoreVary: true })
        || await cache.match(RECORD_PATH, { ignoreSearch: true, ignoreVary: true });
      if (hit) return hit;
    }
    return offlinePage(url);
  }
  // A navigation that is sent to sign in comes back as an opaque redirect: the session is over.
  if (response.type === "opaqueredirect") await clearRecords();
  else if (response.ok && response.type === "basic") await keepRecord(url.pathname + url.search, response.clone());
  return response;
}

async function cacheFirst(request, key) {
  const hit = await (await caches.open(SHELL)).match(key, { ignoreVary: true });
  return hit || fetch(request);
}

async function networkOrOffline(request, url) {
  try {
    return await fetch(request);
  } catch (error) {
    if (url.pathname.startsWith(FIRST_AID)) {
      const guide = await (await caches.open(SHELL)).match(`${url.pathname}?lang=${language(url)}`, { ignoreVary: true });
      if (guide) return guide;
    }
    return offlinePage(url);
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const key = url.pathname + url.search;
  if (url.pathname === RECORD_PATH && request.mode === "navigate") {
    event.respondWith(recordNetworkFirst(request, url));
  } else if (PRECACHED.has(key)) {
    event.respondWith(cacheFirst(request, key));
  } else if (request.mode === "navigate") {
    event.respondWith(networkOrOffline(request, url));
  }
});
