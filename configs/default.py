"""Every field of a run, with the seed's values (docs/model.md).

Variants import this and override fields; from the command line,
`--config.FIELD=VALUE` overrides any of them. Every config takes a dataset
as its argument, e.g. `--config=configs/caption_gan.py:tiny_imagenet`
(see DATASETS).
"""

import ml_collections

# The config argument -> `dataset.name` (a TFDS builder, inpainting/datasets).
DATASETS = {
    'synthetic_shapes': 'synthetic_shapes',  # embedded, no download
    'tiny_imagenet': 'tiny_imagenet',  # tiny-imagenet-200.zip
    'coco': 'mscoco_captions/2014',  # the seed's MSCOCO 2014
    'coco2014': 'mscoco_captions/2014',
    'coco2017': 'mscoco_captions/2017',
    'folder': 'image_folder',  # needs --config.dataset.manual_dir=FOLDER
}


def set_dataset(config: ml_collections.ConfigDict,
                dataset: str | None) -> ml_collections.ConfigDict:
  """Sets `dataset.name` from a config argument (None: keep it)."""
  if dataset:
    if dataset not in DATASETS:
      raise ValueError(f'Unknown dataset {dataset!r} after the config '
                       f"file's ':'; choose one of {sorted(DATASETS)}.")
    config.dataset.name = DATASETS[dataset]
  return config


def set_quick_schedule(config: ml_collections.ConfigDict) -> None:
  """The short schedule of the CPU quick start (configs/caption_gan.py,
  configs/seed.py): 500 steps at batch 16, two held-out evaluations."""
  config.batch_size = 16
  config.num_train_steps = 500
  config.log_every_steps = 25
  config.checkpoint_every_steps = 100
  config.eval_every_steps = 250
  config.eval.num_examples_during_training = 250


def get_config(dataset: str | None = None) -> ml_collections.ConfigDict:
  """The seed's architecture and losses; the embedded dataset by default."""
  config = ml_collections.ConfigDict()
  # What is trained (inpainting/methods.py): 'context_encoder', the seed's
  # generator and critic.
  config.method = 'context_encoder'
  config.seed = 0
  # Start from another run's networks (checkpoints.warm_start): the
  # checkpoint at init.step (None: the latest) in init.workdir gives the
  # generator (and its average) and, with init.critic, the critic;
  # optimisers, step and random state start fresh. Pretrain on one dataset,
  # fine-tune on another. Only a run with no checkpoint of its own starts
  # so: a resumed run continues from its own.
  config.init = ml_collections.ConfigDict()
  config.init.workdir = ml_collections.config_dict.placeholder(str)
  config.init.critic = True
  config.init.step = ml_collections.config_dict.placeholder(int)

  config.dataset = ml_collections.ConfigDict()
  # A registered TFDS name, optionally with a builder config ('name/config').
  config.dataset.name = 'synthetic_shapes'
  # Where built datasets live; TFDS's default (~/tensorflow_datasets) if None.
  config.dataset.data_dir = ml_collections.config_dict.placeholder(str)
  # Where archives are read from; TFDS's usual manual directory if None.
  config.dataset.manual_dir = ml_collections.config_dict.placeholder(str)
  # image_folder only: a COCO-style captions JSON; None: captions.json at
  # the folder's root if there is one, else a .txt beside each image.
  config.dataset.captions_file = ml_collections.config_dict.placeholder(str)
  # A source image that cannot be read (truncated, empty, not an image), or
  # a captions file naming a missing image, while building: 'stop' with an
  # error naming the file, or 'skip' it (logged, counted, and listed in the
  # built dataset's metadata).
  config.dataset.on_bad_input = 'stop'
  config.dataset.train_split = 'train'
  # Examples in the shuffle buffer, over all shards.
  config.dataset.shuffle_buffer_size = 10_000
  # The training stream is this many independent shards of the split, each
  # contributing batch_size / num_shards examples to every global batch; each
  # process reads only its num_shards / process_count shards. None: one per
  # process. Fix it (e.g. 8) to keep the data order, and so the run, the
  # same on any number of processes that divides it.
  config.dataset.num_shards = ml_collections.config_dict.placeholder(int)
  config.dataset.prefetch = 2
  # Training only: mirror each image left to right with probability 1/2
  # (False: the seed). Drawn from the seed and the stream position, so a
  # resumed run sees the same images.
  config.dataset.random_flip = False
  config.image_size = 64

  # The holes of training (inpainting/masks.py): 'centre' (a centred square
  # of side `size`, the seed), 'box' (a rectangle of random sides in
  # [box_min, box_max], anywhere, leaving a border), 'free_form' (random
  # brush strokes, as DeepFill v2's) or 'mixture' (each example one of them
  # with the `mixture` weights). Each drawn from (seed, stream position).
  config.mask = ml_collections.ConfigDict()
  config.mask.kind = 'centre'
  config.mask.size = 32
  config.mask.box_min = 8
  config.mask.box_max = 40
  config.mask.max_strokes = 4
  config.mask.max_vertices = 6
  config.mask.max_length = 20
  config.mask.min_width = 3
  config.mask.max_width = 9
  config.mask.mixture = ml_collections.ConfigDict(
      {'centre': 1.0, 'box': 1.0, 'free_form': 1.0})

  # The networks (docs/model.md). `model.generator` and `model.critic` are
  # the fields of models.Generator and models.Critic, passed to them as they
  # are; `model.layers` picks their building blocks
  # (implementations.from_config); the fields directly under `model` are
  # shared by both.
  config.model = ml_collections.ConfigDict()
  config.model.use_captions = True
  config.model.kernel_size = 5
  config.model.caption_features = 256
  # Computation dtype ('float32' or 'bfloat16'); parameters stay float32.
  config.model.dtype = 'float32'

  generator = config.model.generator = ml_collections.ConfigDict()
  generator.encoder_features = (64, 128, 256, 256)
  generator.decoder_features = (256, 128, 64, 3)
  # The decoder's kernel (None: model.kernel_size). A kernel the stride
  # divides (4) gives every output pixel as many taps: no checkerboard.
  generator.decoder_kernel_size = ml_collections.config_dict.placeholder(int)
  # > 0: the last upsampling gives this many features, and a stride-1 3x3
  # convolution at full resolution turns them, with the masked image and
  # the mask, into the output (a U-Net's outermost skip: the known pixels
  # beside a thin hole reach the output directly). 0: off (the seed).
  generator.full_resolution_features = 0
  # Residual blocks of 3x3 convolutions dilated 2, 4, 8, 2, 4, 8, ... on the
  # encoder's second activation (16x16 of a 64x64 image), each
  # conv -> BatchNorm -> activation added to its input (Iizuka et al.
  # 2017's dilated middle): every position there then sees the whole map
  # before the bottleneck and the skip to the decoder. 0: none (the seed).
  generator.dilated_blocks = 0
  # Noise inputs (StyleGAN's) in the decoder's last noise_levels blocks: a
  # per-pixel standard normal image added after BatchNorm, times a learned
  # per-channel strength that starts at noise_init (models.Decoder), drawn
  # anew each training step and from a fixed seed at inference. Without it the
  # generator is deterministic and any detail it draws is the same wherever
  # the input is smooth. 0: none (the seed).
  generator.noise_levels = 0
  # The noise strengths' initial value: 0 (StyleGAN's) starts noiseless;
  # with loss.noise_free_reconstruction, whose reconstruction term does not
  # see the noise, a value such as 1 starts it as loud as the features and
  # leaves the critic to shape it.
  generator.noise_init = 0.0
  # What the generator reads in the hole (inpainting/prefill.py): 'none',
  # zeros (the seed); 'pull_push', a smooth fill from the border, which the
  # network then corrects (at initialisation the model is that fill).
  generator.prefill = 'none'
  generator.activation = 'relu'
  generator.output_activation = 'tanh'
  generator.skip_connections = True
  # How the caption conditions the generator: 'after_bottleneck' (the seed),
  # 'before_bottleneck' or 'film' (models.GENERATOR_CONDITIONING); with
  # 'film', film_encoder adds FiLM to the encoder's blocks too.
  generator.caption_conditioning = 'after_bottleneck'
  generator.film_encoder = False

  critic = config.model.critic = ml_collections.ConfigDict()
  critic.features = (64, 128, 256, 256)
  critic.activation = 'relu'
  # How the caption conditions the critic: 'concat' (the seed) or
  # 'projection' (models.CRITIC_CONDITIONING).
  critic.caption_conditioning = 'concat'
  # What the critic scores (models.CRITIC_VIEWS): 'global' (the whole image,
  # the seed), 'local' (a window-sided window around the hole),
  # 'global_local' (both) or 'patch' (image and mask in, a logit per
  # position of its last features; fewer features, more positions).
  critic.view = 'global'
  critic.window = 48
  # BatchNorm after the critic's convolutions from the second on (the
  # seed), and/or spectral normalisation of its layers (SN-GAN, DeepFill v2).
  critic.batch_norm = True
  critic.spectral_norm = False
  # A [1, 2, 1] blur before each of the critic's stride-2 convolutions
  # (models.blur): anti-aliased, its gradient holds no pixel-period pattern.
  critic.blur = False
  # How the one-logit views read the last features (models.CRITIC_HEADS):
  # 'flatten', a weight per position (the seed), or 'mean' over positions.
  critic.head = 'flatten'

  layers = config.model.layers = ml_collections.ConfigDict()
  # The decoder's 2x upsampling: 'transpose' (the seed's transposed
  # convolution), 'nearest' or 'bilinear' (resize, then a stride-1
  # convolution: inpainting/layers.py, ResizeConv).
  layers.upsampling = 'transpose'
  layers.batch_norm_momentum = 0.9
  # How the layers are computed; every choice has the same parameters and
  # computes the same function (inpainting/implementations.py). 'auto':
  # the fastest measured on the backend (CPU: 'adjoint' and 'dot'; GPU,
  # TPU: the stock 'xla' and 'flax'). Convolutions: 'xla' (stock Flax),
  # 'phase' or 'adjoint' (inpainting/layers.py); BatchNorm: 'flax' or 'dot'
  # (its sums as matrix products, inpainting/normalization.py).
  layers.conv_impl = 'auto'
  layers.batch_norm_impl = 'auto'

  config.loss = ml_collections.ConfigDict()
  config.loss.reconstruction_weight = 0.8
  config.loss.adversarial_weight = 0.2
  # The reconstruction term (losses.RECONSTRUCTION_LOSSES): 'mse', the
  # seed's mean hole MSE, or 'psnr', minus the images' mean hole PSNR in dB
  # (the mean of log MSEs: evaluation's PSNR as the loss; its scale is not
  # the MSE's, so the adversarial weight's balance moves with it).
  config.loss.reconstruction = 'mse'
  # Boundary-aware reconstruction (losses.reconstruction_weights): hole
  # pixels within `band` pixels of the border weigh edge_weight, known
  # pixels within `band` of the hole known_weight (the context encoder's
  # code: band 4, known pixels 10x). 1 and 0: the seed's plain hole MSE.
  config.loss.band = 4
  config.loss.edge_weight = 1.0
  config.loss.known_weight = 0.0
  # The adversarial loss (losses.ADVERSARIAL_LOSSES): 'bce' (the seed's
  # cross-entropy) or 'hinge'; r1_weight > 0 adds (r1_weight / 2) * |grad of
  # D at real images|^2 to the critic's loss (Mescheder et al. 2018).
  config.loss.adversarial = 'bce'
  config.loss.r1_weight = 0.0
  # Lazy R1 (Karras et al. 2020, StyleGAN2): the penalty's double backward
  # on every r1_interval-th step only, weighed r1_interval times (the loop
  # runs two compiled steps, with and without it); 1: every step.
  config.loss.r1_interval = 1
  # L1 between the critic's features of the real image and of the composite,
  # added to the generator's loss with this weight (0: off).
  config.loss.feature_matching_weight = 0.0
  # With model.generator.noise_levels: the reconstruction term scores a second
  # pass of the generator without its noise, the critic's terms the pass with
  # it; the noiseless fill stays the MSE predictor and the noise carries only
  # the detail the critic asks for (config.noise_scale dials it in at
  # inference). False: both terms score the one noisy pass. BatchNorm's running
  # statistics are the noisy pass's: noise in a block that another BatchNorm
  # follows makes the noiseless fill at inference (noise_scale=0) read
  # statistics of noisy features; with full_resolution_features and
  # noise_levels=1 none follows.
  config.loss.noise_free_reconstruction = False

  # One optimiser per network: clip_by_global_norm -> adam.
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.generator_learning_rate = 2e-4
  config.optimizer.critic_learning_rate = 2e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-8  # Adam's epsilon (optax's default)
  config.optimizer.grad_clip_norm = 1.0
  # Critic updates per generator update, on the same batch (the seed: 1).
  config.optimizer.critic_steps = 1
  # The learning rates' schedule (state.learning_rate_schedule): 'constant'
  # (the seed) or 'cosine' (linear warm-up over warmup_steps, then a cosine
  # decay to 0 at decay_steps; None: num_train_steps). Set decay_steps when a
  # run will be resumed with a larger num_train_steps, or the schedule moves.
  config.optimizer.schedule = 'constant'
  config.optimizer.warmup_steps = 0
  config.optimizer.decay_steps = ml_collections.config_dict.placeholder(int)
  # An exponential moving average of the generator's parameters and
  # BatchNorm statistics, with decay min(ema_decay, (1 + t) / (10 + t)) at
  # step t; when on (> 0), evaluation, samples and tools/inpaint.py fill
  # with it. 0: off (the seed).
  config.optimizer.ema_decay = 0.0

  # The diffusion sampler's (config.method='diffusion', inpainting/
  # diffusion.py): its U-Net, EDM's noise levels, Heun's sampler.
  diffusion = config.diffusion = ml_collections.ConfigDict()
  diffusion.unet = ml_collections.ConfigDict()
  diffusion.unet.features = (32, 64, 96, 128)  # 64, 32, 16, 8 pixels
  diffusion.unet.blocks = 1
  diffusion.unet.attention_levels = (3,)
  diffusion.unet.embedding_features = 128
  diffusion.sigma_data = 0.5  # images in [-1, 1]
  diffusion.sigma_min = 0.002
  diffusion.sigma_max = 80.0
  diffusion.rho = 7.0
  diffusion.p_mean = -1.2  # training: ln sigma ~ N(p_mean, p_std^2)
  diffusion.p_std = 1.2
  diffusion.sampling_steps = 16  # Heun: 2 steps - 1 = 31 evaluations
  diffusion.churn = 0.0  # 0: deterministic for a seed
  # A mean model whose fill the sampler draws around: '' none (draws of the
  # hole from nothing), 'shipped' (the package's reference model) or an
  # exported .safetensors file (tools/export.py). Its fill is pasted into
  # the U-Net's context and the network denoises the residual from it
  # (set sigma_data to the residual's deviation, not the image's); its
  # weights are frozen and kept in the run's checkpoints.
  diffusion.mean_fill = ''

  # Probability of zeroing an example's caption embedding in a training step
  # (0 in the seed); lets one model also fill without captions.
  config.caption_dropout = 0.0
  # Caption guidance at inference (evaluation, samples, tools/inpaint.py):
  # p + guidance * (p - p0), p0 predicted with a zero caption; 0 = off.
  config.guidance = 0.0
  # Test-time mirroring at inference: the mean of the prediction and the
  # mirrored prediction of the mirrored input (twice the generator's cost).
  config.flip_average = False
  # With model.generator.noise_levels: the noise inputs' scale at inference (1:
  # as trained; 0: none, the generator's mean-like fill; between, a dial from
  # smooth to detailed, as a GAN's truncation).
  config.noise_scale = 1.0

  config.batch_size = 64  # global, over all devices and processes
  config.num_train_steps = 20_000
  config.log_every_steps = 100
  config.checkpoint_every_steps = 1_000
  config.max_checkpoints_to_keep = 3
  # N > 0: also keep every checkpoint at a multiple of N steps, so that a
  # step in mid-schedule can still be scored after the run goes on; 0: only
  # the latest `max_checkpoints_to_keep`.
  config.keep_checkpoints_every = 0
  # Held-out metrics and a fixed sample grid (masked | inpainted | target)
  # in TensorBoard and workdir/samples/.
  config.eval_every_steps = 1_000
  config.num_sample_images = 16

  # Evaluation (`--mode=evaluate`, and during training): docs/evaluation.md.
  config.eval = ml_collections.ConfigDict()
  config.eval.split = 'validation'
  # Training and evaluation refuse an eval.split that shares examples with
  # dataset.train_split (held-out data trained on); True allows it, for a
  # deliberate overfitting check.
  config.eval.allow_train_overlap = False
  config.eval.batch_size = 250
  # The whole split if None.
  config.eval.num_examples = ml_collections.config_dict.placeholder(int)
  config.eval.num_examples_during_training = 500
  # Score OpenCV / scikit-image baselines on the same images.
  config.eval.baselines = True
  # Holes scored: 'centre' (the protocol's, with the caption ablation), and
  # 'box' / 'free_form' (a fixed set drawn from eval.mask_seed and each
  # image's position with config.mask's bounds: a table each).
  config.eval.mask_kinds = ('centre',)
  config.eval.mask_seed = 0
  # The SWD of every method and the caption scores read the first
  # `sample_examples` images; a method that draws (config.method=
  # 'diffusion') draws `samples` fills of each for the sample PSNR and
  # calibration.
  config.eval.samples = 4
  config.eval.sample_examples = 256
  # Caption retrieval (every method with a caption loss): this many images
  # each rank their caption among 100 (distribution.RETRIEVAL_CANDIDATES).
  config.eval.retrieval_examples = 100
  # A sampler's SWD and sample PSNR at these guidance scales besides 0 (one
  # draw of each of the first `sample_examples` images a scale).
  config.eval.guidance_scales = ()
  return set_dataset(config, dataset)
