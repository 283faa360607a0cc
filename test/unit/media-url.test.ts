import { loadConfig } from '../../lambda/config/env';
import { checkMediaUrl, hostMatches } from '../../lambda/jobs/media-url';
import { FAL_MEDIA_HOSTS } from '../../lambda/providers/fal/stable-audio';
import { KLING_MEDIA_HOSTS } from '../../lambda/providers/kling/video';
import { BAD_MEDIA_URLS } from '../support/bad-media-urls';

/** Issue item 4: which result URLs a job may redirect a client to. */
const kling = { hosts: KLING_MEDIA_HOSTS, origins: ['http://127.0.0.1:4010'] };
const extra = ['cdn.example.com', '.example.net'];


describe('media URL policy', () => {
  test.each(BAD_MEDIA_URLS.map((u) => [JSON.stringify(u).slice(0, 90), u]))('refuses %s', (_label, url) => {
    expect(checkMediaUrl(url, kling, extra)).toMatchObject({ ok: false });
  });

  test.each<[string, string]>([
    ['https://cdn.klingai.com/bs2/upload-kling-api/7485378259/text2video/C-0_raw_video_1.mp4', 'Kling CDN'],
    ['HTTPS://CDN.KLINGAI.COM/bs2/v.mp4', 'case-insensitive scheme and host (served normalised)'],
    ['http://127.0.0.1:4010/files/video/123.mp4', 'the configured base URL origin (the local sandbox)'],
    ['https://cdn.example.com/a/b.mp4?sig=1', 'MEDIA_URL_HOSTS exact host'],
    ['https://media.eu.example.net/a.mp4', 'MEDIA_URL_HOSTS suffix'],
  ])('accepts %s (%s)', (url) => {
    const r = checkMediaUrl(url, kling, extra);
    expect(r).toMatchObject({ ok: true });
    expect((r as { url: string }).url).toBe(new URL(url).href);
  });

  test('fal: its CDN only', () => {
    const fal = { hosts: FAL_MEDIA_HOSTS, origins: [] };
    expect(checkMediaUrl('https://v3.fal.media/files/rabbit/x.wav', fal, [])).toMatchObject({ ok: true });
    expect(checkMediaUrl('https://fal.media/files/x.wav', fal, [])).toMatchObject({ ok: true });
    expect(checkMediaUrl('https://storage.googleapis.com/falserverless/x.wav', fal, [])).toMatchObject({ ok: false });
    expect(checkMediaUrl('https://cdn.klingai.com/x.mp4', fal, [])).toMatchObject({ ok: false });
  });

  test('host rules: exact, or a leading dot for subdomains only', () => {
    expect(hostMatches('a.example.net', '.example.net')).toBe(true);
    expect(hostMatches('example.net', '.example.net')).toBe(false);
    expect(hostMatches('cdn.example.com', 'cdn.example.com')).toBe(true);
    expect(hostMatches('x.cdn.example.com', 'cdn.example.com')).toBe(false);
  });
});

describe('MEDIA_URL_HOSTS', () => {
  test('parsed, trimmed, lower-cased; empty entries ignored; default none', () => {
    expect(loadConfig({}).jobs.mediaUrlHosts).toEqual([]);
    expect(loadConfig({ MEDIA_URL_HOSTS: ' CDN.Example.com, ,.example.net ' }).jobs.mediaUrlHosts).toEqual(['cdn.example.com', '.example.net']);
  });

  test.each(['*.example.com', 'https://cdn.example.com', 'cdn.example.com/path', '.com', 'com', '169.254.169.254', 'cdn example.com', 'cdn.example.com:443'])(
    'refuses %j at start-up, naming the variable and the entry',
    (entry) => {
      expect(() => loadConfig({ MEDIA_URL_HOSTS: `ok.example.org,${entry}` })).toThrow(/^MEDIA_URL_HOSTS entry 2 is not a host name/);
    },
  );
});
