"""A local web page that fills a hole you paint in your photograph.

  python tools/serve.py [--port=8080] \
      [--weights=FILE.safetensors | --config=CONFIG --workdir=RUN [--step=N]]

Serves on 127.0.0.1 only (your machine) and prints the address; open it in
a browser. With no model named it fills with the shipped weights
(inpainting/weights/reference.safetensors). The page and its JSON API
(`POST /api/v1/inpaint`) are `inpainting/server.py`'s. Needs the `serve`
extra: `pip install -e '.[serve]'`.
"""

from __future__ import annotations

import socket

from absl import flags
from absl import logging

from inpainting import errors
from inpainting import model_flags

FLAGS = flags.FLAGS
model_flags.define()
flags.DEFINE_integer('port', 8080, 'The port on 127.0.0.1 (0: a free one).')

HOST = '127.0.0.1'


def main(argv):
  if len(argv) > 1:
    raise errors.UserError(f'Unexpected arguments: {" ".join(argv[1:])}')
  if not 0 <= FLAGS.port < 65536:
    raise errors.UserError(f'--port={FLAGS.port}: must be in [0, 65535]')
  try:
    import uvicorn  # pylint: disable=g-import-not-at-top
    from inpainting import server  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.UserError(f'{e.name} is not installed: pip install -e '
                           '\'.[serve]\'') from None
  config, state, name = model_flags.named_model()
  app = server.create_app(config, state, name=name)
  sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    sock.bind((HOST, FLAGS.port))
    # Listening from now: a browser opened on the printed address waits in
    # the backlog until the server takes it, instead of being refused.
    sock.listen(128)
  except OSError as e:
    raise errors.UserError(f'--port={FLAGS.port}: cannot listen on '
                           f'{HOST}:{FLAGS.port} ({e.strerror or e}); '
                           'pick another port, or 0 for a free one') from None
  # The address once the socket is bound (port 0 picks a free one).
  port = sock.getsockname()[1]
  print(f'Serving {name} at http://{HOST}:{port}/ (Ctrl-C stops)',
        flush=True)
  logging.info('Filling with %s.', name)
  uvicorn.Server(uvicorn.Config(app, log_level='warning')).run(
      sockets=[sock])


if __name__ == '__main__':
  errors.run(main)
