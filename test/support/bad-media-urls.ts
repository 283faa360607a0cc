/**
 * Issue item 4: every result URL a provider (or whoever answers in its place) could send that must
 * never become a redirect or a job's `url`, for a policy of Kling's hosts plus the extra hosts
 * `cdn.example.com,.example.net`, with `http://127.0.0.1:4010` as the configured base origin.
 */
export const BAD_MEDIA_URLS: readonly string[] = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'https://169.254.169.254/latest/meta-data/',
  'http://[fd00:ec2::254]/latest/meta-data/',
  'javascript:alert(document.cookie)',
  'JavaScript:alert(1)',
  'file:///etc/passwd',
  'data:video/mp4;base64,AAAAIGZ0eXBpc29t',
  '//evil.example/video.mp4',
  '/v1/videos/other',
  'https://evil.example/video.mp4',
  'http://cdn.klingai.com/bs2/video.mp4',
  'ftp://cdn.klingai.com/video.mp4',
  'https://cdn.klingai.com.evil.example/video.mp4',
  'https://cdn.klingai.com@evil.example/video.mp4',
  'https://user:pass@cdn.klingai.com/video.mp4',
  'https://klingai.com.evil.example/video.mp4',
  'https://evilklingai.com/video.mp4',
  'https://cdn.klingai.com:8443/video.mp4',
  'https://cdn.klingai.com/video.mp4\r\nSet-Cookie: session=stolen',
  'https://cdn.klingai.com/video.mp4\nLocation: https://evil.example/',
  'https://cdn.klingai.com/video.mp4\u0000.html',
  'https://cdn.klingai.com/ video.mp4',
  'https://cdn.klingai.com/\tvideo.mp4',
  'https://127.0.0.1/video.mp4',
  'http://127.0.0.1:4011/files/video/x.mp4',
  'https://localhost/video.mp4',
  'https://example.net/video.mp4',
  'https://notexample.net/video.mp4',
  'https://cdn.example.com.evil.example/video.mp4',
  `https://cdn.klingai.com/${'a'.repeat(2100)}.mp4`,
  '',
  'not a url',
];
