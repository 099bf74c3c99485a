/* SmartCare first-aid service worker: pre-caches the guides and answers from the cache first. */
"use strict";

const PREFIX = "smartcare-first-aid-";
const CACHE = PREFIX + "__VERSION__";
const PRECACHE = __PRECACHE__;
const PRECACHED = new Set(PRECACHE);
const SCOPE_PATH = "/app/first-aid";

self.addEventListener("install", (event) => {
  // Cookies are left out so that storing the pages never changes the reader's language choice.
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
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
    await Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

function preferredLanguage(url) {
  const asked = url.searchParams.get("lang");
  if (asked === "en" || asked === "zh-Hans") return asked;
  return (self.navigator.language || "").toLowerCase().startsWith("zh") ? "zh-Hans" : "en";
}

async function answer(request, url) {
  const cache = await caches.open(CACHE);
  const key = url.pathname + url.search;
  if (PRECACHED.has(key)) {
    const hit = await cache.match(key, { ignoreVary: true });
    if (hit) return hit;
  }
  try {
    return await fetch(request);
  } catch (error) {
    // Offline and not stored as asked (no or an odd ?lang=): the same page in the reader's language, else the list.
    const lang = preferredLanguage(url);
    const fallback = await cache.match(`${url.pathname}?lang=${lang}`, { ignoreVary: true })
      || await cache.match(`${SCOPE_PATH}?lang=${lang}`, { ignoreVary: true });
    if (fallback && request.mode === "navigate") return fallback;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const key = url.pathname + url.search;
  const isGuidePage = request.mode === "navigate" && url.pathname.startsWith(SCOPE_PATH);
  if (!PRECACHED.has(key) && !isGuidePage) return;
  event.respondWith(answer(request, url));
});
