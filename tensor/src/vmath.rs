//! Vectorised transcendental functions over contiguous `f64` slices:
//! `exp`, `expm1`, `log`, `log1p`, `tanh`, `sigmoid`, `softplus`.
//!
//! Each function is a branch-free per-element formula (range reduction plus a
//! polynomial, using only arithmetic, comparisons-as-selects and bit casts) so
//! that LLVM vectorises the loop over a block; [`crate::simd`] compiles it for
//! AVX-512, AVX2+FMA and the portable baseline. Accuracy is about 0.5-1 ulp
//! (the test suite checks <= 2 ulp against the platform libm).
//!
//! Inputs outside a kernel's comfortable range (overflow, subnormal results,
//! zero/negative/infinite/NaN arguments of `log`, ...) are rare, so instead of
//! slowing every lane with special-case logic each block is scanned for them
//! afterwards and those elements are recomputed with the scalar libm
//! definition. Special values therefore match `f64::exp` etc. exactly.

use crate::ops::{sigmoid, softplus, UnaryOp};
use crate::simd::{mla, multiversion, Mode};
use std::mem::MaybeUninit;

/// Elements per block: small enough that a block stays in L1 while it is
/// scanned for special values, large enough to amortise the scan.
const BLOCK: usize = 256;

/// Adding then subtracting `1.5 * 2^52` rounds a double of magnitude below
/// 2^51 to the nearest integer, whose two's complement sits in the low bits.
const SHIFT: f64 = 6755399441055744.0;
/// `ln 2` split so that `k * LN2_HI` is exact for `|k| < 2^20` (fdlibm).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `2^(j/32)` for j = 0..32 as `EXP_SBITS[j] + (j << 47)` (the bits of the
/// double nearest to it, minus `j << 47` so that adding `(32k + j) << 47`
/// gives `2^k 2^(j/32)` directly) and its relative rounding error
/// `EXP_TAIL[j]`. Computed with 300-bit mpmath.
const EXP_SBITS: [u64; 32] = [
    0x3ff0_0000_0000_0000,
    0x3fef_d9b0_d315_8574,
    0x3fef_b558_6cf9_890f,
    0x3fef_9301_d012_5b51,
    0x3fef_72b8_3c7d_517b,
    0x3fef_5487_3168_b9aa,
    0x3fef_387a_6e75_6238,
    0x3fef_1e9d_f51f_dee1,
    0x3fef_06fe_0a31_b715,
    0x3fee_f1a7_373a_a9cb,
    0x3fee_dea6_4c12_3422,
    0x3fee_ce08_6061_892d,
    0x3fee_bfda_d536_2a27,
    0x3fee_b42b_569d_4f82,
    0x3fee_ab07_dd48_5429,
    0x3fee_a47e_b03a_5585,
    0x3fee_a09e_667f_3bcd,
    0x3fee_9f75_e8ec_5f74,
    0x3fee_a114_73eb_0187,
    0x3fee_a589_994c_ce13,
    0x3fee_ace5_422a_a0db,
    0x3fee_b737_b0cd_c5e5,
    0x3fee_c491_82a3_f090,
    0x3fee_d503_b23e_255d,
    0x3fee_e89f_995a_d3ad,
    0x3fee_ff76_f2fb_5e47,
    0x3fef_199b_dd85_529c,
    0x3fef_3720_dcef_9069,
    0x3fef_5818_dcfb_a487,
    0x3fef_7c97_337b_9b5f,
    0x3fef_a4af_a2a4_90da,
    0x3fef_d076_5b6e_4540,
];
const EXP_TAIL: [f64; 32] = [
    0.0,
    4.9997448722726326e-17,
    8.189317638195515e-17,
    -7.402825309426177e-17,
    -2.7939114859515733e-17,
    9.341710609905046e-17,
    7.826573258636076e-17,
    3.2904726646008416e-17,
    3.3484623336251524e-17,
    -6.346552106729483e-17,
    3.750854201303127e-17,
    2.1023049675215714e-18,
    1.9572585293112036e-17,
    -2.1571477251208752e-17,
    5.68648095791174e-17,
    -4.8923067513522756e-17,
    -6.835808657661922e-17,
    -2.092304381843353e-17,
    -2.3591094770850053e-17,
    -6.735219232374683e-17,
    5.1548301170786783e-17,
    -6.432131775424189e-18,
    1.5341410053603723e-17,
    -6.152602891550265e-17,
    4.875160526227062e-17,
    -1.0772487078934056e-17,
    1.685487290628973e-17,
    1.01562190116415e-17,
    1.790126907604513e-17,
    -3.266924100901318e-17,
    -5.545065618639427e-17,
    4.5784915277060095e-17,
];
/// `32 / ln 2`.
const INV_LN2_32: f64 = 46.16624130844683;
/// `ln2 / 32` split like [`LN2_HI`]/[`LN2_LO`] (division by 32 is exact).
const LN2_32_HI: f64 = LN2_HI / 32.0;
const LN2_32_LO: f64 = LN2_LO / 32.0;

/// Taylor coefficients `1/n!` for n = 2..=7: `expm1(r) = r + r^2 q(r)`. On
/// `|r| <= ln2/64` the truncation error is below 5e-19 relative to `r`.
const EXPM1_Q: [f64; 6] = [1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];

/// Log table offset: `x = 2^k z` with `z` in `[o, 2o)`, `o` the double with
/// bits `0x3fe0... + LOG_OFF_M` (`[0.6855, 1.371)`), split into 128
/// subintervals by the 7 bits below the exponent of `bits(x) - LOG_OFF_M`.
/// The offset puts 1.0 in the exact middle of subinterval 80, whose entry is
/// `invc = 1`, `logc = 0`: near 1, `r = x - 1` is exact and nothing cancels.
const LOG_OFF_M: u64 = 0x0005_f000_0000_0000;
/// Mask of the sign and exponent fields.
const EXP_MASK: u64 = 0xfff0_0000_0000_0000;
/// Mask clearing the low 8 mantissa bits: leaves a 45-bit head of `z`.
const HEAD_MASK: u64 = !0xff;

/// Per subinterval `[a, b)` of `z`: `invc ~ 2/(a + b)` rounded to 8
/// significant bits, so that `z invc - 1` (`|r| < 0.0059 < 2^-7`) is exactly
/// representable and one FMA gives it without error; and `-ln(invc) = hi +
/// lo` to about 2^-95, with `hi` a multiple of 2^-42 so that `k LN2_HI + hi`
/// is exact (`k LN2_HI` is a multiple of 2^-32 below 2^10).
///
/// Lookups are gathers, the bottleneck of this kernel, so `invc` and `hi`
/// share one word: `hi` (|hi| < 0.37, so its low 12 bits are zero) in the
/// high bits and bits 45..53 of `invc` (exponent LSB and 7 mantissa bits;
/// `invc` is in `[0.5, 2)`) in the low 8 bits. `lo` is [`LOG_LOGC_LO`].
///
/// Generated by a python3 script with 256-bit mpmath: for each `i`, of the
/// two 8-bit doubles around `2/(a+b)` take the one with smaller `max |r|`,
/// then `hi = round(-log(invc) 2^42) / 2^42`, `lo = double(-log(invc) -
/// hi)`; it asserts the exactness of `r` from the bit counts, `hi = 0` or
/// `|hi| > max |r|` (for Fast2Sum at k = 0), and the packing round trip.
const LOG_TAB: [u64; 128] = [
    0xbfd7_eaf8_3b82_b0ba,
    0xbfd7_92a5_5fdd_40b9,
    0xbfd7_39d7_f6bb_d0b8,
    0xbfd6_e08e_aa2b_a0b7,
    0xbfd6_86c8_1e9b_10b6,
    0xbfd6_2c82_f2b9_c0b5,
    0xbfd5_d1bd_bf58_10b4,
    0xbfd5_7677_1745_60b3,
    0xbfd5_1aad_872e_00b2,
    0xbfd4_be5f_9577_80b1,
    0xbfd4_618b_c21c_60b0,
    0xbfd4_0430_8686_a0af,
    0xbfd3_a64c_5569_40ae,
    0xbfd3_47dd_9a98_80ad,
    0xbfd2_e8e2_bae1_20ac,
    0xbfd2_e8e2_bae1_20ac,
    0xbfd2_895a_13de_80ab,
    0xbfd2_2941_fbcf_80aa,
    0xbfd1_c898_c169_a0a9,
    0xbfd1_675c_abab_a0a8,
    0xbfd1_058b_f9ae_50a7,
    0xbfd0_a324_e273_90a6,
    0xbfd0_4025_94b4_d0a5,
    0xbfd0_4025_94b4_d0a5,
    0xbfcf_b918_6d5e_40a4,
    0xbfce_f0ad_cbdc_60a3,
    0xbfce_2707_6e2b_00a2,
    0xbfcd_5c21_6b4f_c0a1,
    0xbfcd_5c21_6b4f_c0a1,
    0xbfcc_8ff7_c79a_a0a0,
    0xbfcb_c286_742d_809f,
    0xbfca_f3c9_4e80_c09e,
    0xbfca_f3c9_4e80_c09e,
    0xbfca_23bc_1fe2_c09d,
    0xbfc9_525a_9cf4_609c,
    0xbfc8_7fa0_6520_c09b,
    0xbfc8_7fa0_6520_c09b,
    0xbfc7_ab89_0210_e09a,
    0xbfc6_d60f_e719_e099,
    0xbfc5_ff30_70a7_a098,
    0xbfc5_ff30_70a7_a098,
    0xbfc5_26e5_e3a1_c097,
    0xbfc4_4d2b_6ccb_8096,
    0xbfc4_4d2b_6ccb_8096,
    0xbfc3_71fc_201e_8095,
    0xbfc2_9552_f820_0094,
    0xbfc2_9552_f820_0094,
    0xbfc1_b72a_d52f_6093,
    0xbfc0_d77e_7cd0_8092,
    0xbfc0_d77e_7cd0_8092,
    0xbfbf_ec91_31dc_0091,
    0xbfbe_2707_6e2b_0090,
    0xbfbe_2707_6e2b_0090,
    0xbfbc_5e54_8f5b_c08f,
    0xbfba_926d_3a4a_c08e,
    0xbfba_926d_3a4a_c08e,
    0xbfb8_c345_d631_808d,
    0xbfb8_c345_d631_808d,
    0xbfb6_f0d2_8ae5_808c,
    0xbfb5_1b07_3f06_008b,
    0xbfb5_1b07_3f06_008b,
    0xbfb3_41d7_961b_c08a,
    0xbfb3_41d7_961b_c08a,
    0xbfb1_6536_eea3_8089,
    0xbfb1_6536_eea3_8089,
    0xbfaf_0a30_c011_8088,
    0xbfab_42dd_7119_8087,
    0xbfab_42dd_7119_8087,
    0xbfa7_7458_f633_0086,
    0xbfa7_7458_f633_0086,
    0xbfa3_9e87_b9fe_8085,
    0xbfa3_9e87_b9fe_8085,
    0xbf9f_829b_0e78_0084,
    0xbf9f_829b_0e78_0084,
    0xbf97_b91b_07d6_0083,
    0xbf97_b91b_07d6_0083,
    0xbf8f_c0a8_b0fc_0082,
    0xbf8f_c0a8_b0fc_0082,
    0xbf7f_e02a_6b10_0081,
    0xbf7f_e02a_6b10_0081,
    0x0000_0000_0000_0080,
    0x3f80_1015_7588_007e,
    0x3f90_2056_5893_007c,
    0x3f98_4925_28c9_007a,
    0x3fa0_415d_89e7_8078,
    0x3fa4_66ae_d42e_0076,
    0x3fa6_7c94_f2d4_8075,
    0x3faa_aef2_d0fb_0073,
    0x3fae_ea31_c006_8071,
    0x3fb1_973b_d146_406f,
    0x3fb3_bdf5_a7d2_006d,
    0x3fb4_d311_5d20_806c,
    0x3fb7_00d3_0aea_c06a,
    0x3fb9_335e_5d59_4068,
    0x3fba_4e76_40b1_c067,
    0x3fbc_8858_01bc_4065,
    0x3fbd_a727_6384_4064,
    0x3fbf_e891_39db_c062,
    0x3fc1_178e_8227_e060,
    0x3fc1_aa2b_7e24_005f,
    0x3fc2_d161_0c86_805d,
    0x3fc3_65fc_b015_a05c,
    0x3fc4_913d_8333_c05a,
    0x3fc5_27e5_e4a1_c059,
    0x3fc5_bf40_6b54_4058,
    0x3fc6_f012_8b75_6056,
    0x3fc7_898d_8544_4055,
    0x3fc8_beaf_eb39_0053,
    0x3fc9_5a5a_dcf7_0052,
    0x3fc9_f6c4_0708_a051,
    0x3fcb_31d8_575b_c04f,
    0x3fcb_d087_383b_e04e,
    0x3fcc_6ffb_c6f0_004d,
    0x3fcd_1037_f265_604c,
    0x3fce_530e_ffe7_204a,
    0x3fce_f5ad_e4dd_0049,
    0x3fcf_991c_6cb3_c048,
    0x3fd0_1eae_5626_c047,
    0x3fd0_c42d_6761_6045,
    0x3fd1_178e_8227_e044,
    0x3fd1_6b5c_cbad_0043,
    0x3fd1_bf99_635a_7042,
    0x3fd2_1445_6d0e_c041,
    0x3fd2_6962_1134_e040,
    0x3fd2_bef0_7cdc_903f,
    0x3fd3_6b67_76be_103d,
    0x3fd3_c252_7733_303c,
    0x3fd4_19b4_23d5_f03b,
];
/// Low part of `-ln(invc)` (see [`LOG_TAB`]).
const LOG_LOGC_LO: [f64; 128] = [
    f64::from_bits(0x3cee_4da6_2d0c_25ad),
    f64::from_bits(0xbd3e_89f0_5769_1fea),
    f64::from_bits(0xbcba_7389_314f_eb50),
    f64::from_bits(0xbd1e_38c1_3931_8d71),
    f64::from_bits(0xbd32_bb11_0af8_4054),
    f64::from_bits(0xbd3e_54bd_bd7c_8a98),
    f64::from_bits(0x3d38_d6bd_c9c7_c238),
    f64::from_bits(0x3d36_4ead_9524_d7ca),
    f64::from_bits(0x3d3f_4bd8_db0a_7cc1),
    f64::from_bits(0x3d3d_7c92_cd9a_d824),
    f64::from_bits(0x3d13_d82f_484c_84cc),
    f64::from_bits(0xbd3f_8ef4_3049_f7d3),
    f64::from_bits(0xbd37_a71c_bcd7_35d0),
    f64::from_bits(0x3d25_594d_d4c5_8092),
    f64::from_bits(0x3d26_7b1e_99b7_2bd8),
    f64::from_bits(0x3d26_7b1e_99b7_2bd8),
    f64::from_bits(0xbd3a_8d7a_d24c_13f0),
    f64::from_bits(0x3d3a_6976_f5eb_0963),
    f64::from_bits(0x3d38_1410_e5c6_2aff),
    f64::from_bits(0xbd38_380e_731f_55c4),
    f64::from_bits(0x3d34_ab9d_817d_52cd),
    f64::from_bits(0xbd0c_6bee_7ef4_030e),
    f64::from_bits(0xbcf0_36b8_9ef4_2d7f),
    f64::from_bits(0xbcf0_36b8_9ef4_2d7f),
    f64::from_bits(0x3d0d_572a_ab99_3c87),
    f64::from_bits(0x3d2b_26b7_9c86_af24),
    f64::from_bits(0x3d3a_342c_2af0_003c),
    f64::from_bits(0x3d21_ba91_bbca_681b),
    f64::from_bits(0x3d21_ba91_bbca_681b),
    f64::from_bits(0x3d27_794f_689f_8434),
    f64::from_bits(0xbd39_ac53_f39d_121c),
    f64::from_bits(0x3cba_4e63_3fcd_9066),
    f64::from_bits(0x3cba_4e63_3fcd_9066),
    f64::from_bits(0x3d35_39cd_91dc_9f0b),
    f64::from_bits(0x3d32_9713_7d9f_158f),
    f64::from_bits(0xbd32_2120_4012_02fc),
    f64::from_bits(0xbd32_2120_4012_02fc),
    f64::from_bits(0x3d2b_db90_7253_4a58),
    f64::from_bits(0x3d3b_c6e5_5713_4767),
    f64::from_bits(0x3d38_586f_183b_ebf2),
    f64::from_bits(0x3d38_586f_183b_ebf2),
    f64::from_bits(0x3d37_90ba_37fc_5238),
    f64::from_bits(0x3d17_0cc1_6135_783c),
    f64::from_bits(0x3d17_0cc1_6135_783c),
    f64::from_bits(0xbd3e_e877_9b2d_8abc),
    f64::from_bits(0x3d35_b967_f447_1dfc),
    f64::from_bits(0x3d35_b967_f447_1dfc),
    f64::from_bits(0xbd2e_80a4_1811_a396),
    f64::from_bits(0xbd3c_b2cd_2ee2_f482),
    f64::from_bits(0xbd3c_b2cd_2ee2_f482),
    f64::from_bits(0x3d35_4555_d1ae_6607),
    f64::from_bits(0x3d2a_342c_2af0_003c),
    f64::from_bits(0x3d2a_342c_2af0_003c),
    f64::from_bits(0xbd1d_0c57_585f_be06),
    f64::from_bits(0xbd35_6365_0bd2_2a9c),
    f64::from_bits(0xbd35_6365_0bd2_2a9c),
    f64::from_bits(0xbd3b_20f5_acb4_2a66),
    f64::from_bits(0xbd3b_20f5_acb4_2a66),
    f64::from_bits(0x3d34_b464_1b66_4613),
    f64::from_bits(0xbd38_3f69_278e_686a),
    f64::from_bits(0xbd38_3f69_278e_686a),
    f64::from_bits(0xbd31_d092_9983_7610),
    f64::from_bits(0xbd31_d092_9983_7610),
    f64::from_bits(0x3d14_7c5e_768f_a309),
    f64::from_bits(0x3d14_7c5e_768f_a309),
    f64::from_bits(0x3d2d_599e_8336_8e91),
    f64::from_bits(0x3d1c_827a_e5d6_704c),
    f64::from_bits(0x3d1c_827a_e5d6_704c),
    f64::from_bits(0x3d31_81dc_e586_af09),
    f64::from_bits(0x3d31_81dc_e586_af09),
    f64::from_bits(0xbd3e_afd4_80ad_9015),
    f64::from_bits(0xbd3e_afd4_80ad_9015),
    f64::from_bits(0xbd29_8026_7c7e_09e4),
    f64::from_bits(0xbd29_8026_7c7e_09e4),
    f64::from_bits(0x3d33_b955_b602_ace4),
    f64::from_bits(0x3d33_b955_b602_ace4),
    f64::from_bits(0xbcdf_1e7c_f6d3_a69c),
    f64::from_bits(0xbcdf_1e7c_f6d3_a69c),
    f64::from_bits(0xbd19_e23f_0dda_40e4),
    f64::from_bits(0xbd19_e23f_0dda_40e4),
    f64::from_bits(0x0000_0000_0000_0000),
    f64::from_bits(0x3d3b_ce25_1998_b506),
    f64::from_bits(0x3d36_11d2_7c8e_8417),
    f64::from_bits(0xbd2a_a0ba_325a_0c34),
    f64::from_bits(0xbd3d_ddc7_f461_c516),
    f64::from_bits(0xbd2c_1673_75bd_fd28),
    f64::from_bits(0x3d3d_ac20_827c_ca0c),
    f64::from_bits(0x3d20_fc1a_353b_b42e),
    f64::from_bits(0x3d3c_3dd8_3606_d891),
    f64::from_bits(0x3d35_66d1_54f9_30b3),
    f64::from_bits(0xbd31_9bd0_ad12_5895),
    f64::from_bits(0xbcf5_3a25_82f4_e1ef),
    f64::from_bits(0x3cec_1e8d_a99d_ed32),
    f64::from_bits(0x3d23_115c_3abd_47da),
    f64::from_bits(0xbd0e_42b6_b944_07c8),
    f64::from_bits(0x3d26_46d1_c65a_acd3),
    f64::from_bits(0x3d1a_8940_1fa7_1733),
    f64::from_bits(0x3d35_6594_d82f_7a82),
    f64::from_bits(0x3d21_ef78_ce2d_07f2),
    f64::from_bits(0xbd31_ac38_dde3_b366),
    f64::from_bits(0x3d03_9d6c_cb81_b4a1),
    f64::from_bits(0xbd3f_d3a0_afb9_691b),
    f64::from_bits(0xbd35_3e43_5581_24c4),
    f64::from_bits(0xbd34_e60b_8d4b_411d),
    f64::from_bits(0xbd12_7023_eb68_981c),
    f64::from_bits(0x3d35_7739_0d31_ef0f),
    f64::from_bits(0x3d38_e67b_e3db_af3f),
    f64::from_bits(0xbd07_3d54_aae9_2cd1),
    f64::from_bits(0x3d07_f228_58a0_ff6f),
    f64::from_bits(0xbd33_37d9_4bcd_3f43),
    f64::from_bits(0x3d3c_794e_562a_63cb),
    f64::from_bits(0xbd2d_4bc4_5954_12b6),
    f64::from_bits(0x3d3e_e138_d3a6_9d43),
    f64::from_bits(0xbd08_4a7e_75b6_f6e4),
    f64::from_bits(0xbd3f_dbdb_b13f_7c18),
    f64::from_bits(0xbcca_2115_65bb_8e11),
    f64::from_bits(0xbd39_0d04_cd7c_c834),
    f64::from_bits(0x3d3a_43dc_fade_85ae),
    f64::from_bits(0x3d27_188b_163c_eae9),
    f64::from_bits(0x3d31_ef78_ce2d_07f2),
    f64::from_bits(0xbd32_3299_042d_74bf),
    f64::from_bits(0xbd31_ac89_575c_2125),
    f64::from_bits(0xbd3c_af04_28b7_28a3),
    f64::from_bits(0xbd31_b61f_1052_2625),
    f64::from_bits(0x3d2a_9cfa_4a50_04f4),
    f64::from_bits(0x3d11_6ecd_b0f1_77c8),
    f64::from_bits(0x3d18_3b54_b606_bd5c),
    f64::from_bits(0xbd3c_e379_226d_e3ec),
];

/// Taylor coefficients of `(ln(1+r) - r) / r^2 = -1/2 + r/3 - ...` up to
/// `r^6/8`: for `|r| < 0.0059` the omitted `r^9/9` is below `2^-62 |r|`,
/// and below `2^-66` where `|r| > 2^-8` (only outside the central
/// subinterval, where `|ln x| > 2^-9`).
const LOG1P_Q: [f64; 7] = [
    -1.0 / 2.0,
    1.0 / 3.0,
    -1.0 / 4.0,
    1.0 / 5.0,
    -1.0 / 6.0,
    1.0 / 7.0,
    -1.0 / 8.0,
];

/// Evaluates `c[0] + x*c[1] + x^2*c[2] + ...` by Horner's rule.
#[inline(always)]
fn horner<M: Mode, const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    let mut acc = c[N - 1];
    for i in (0..N - 1).rev() {
        acc = mla::<M>(acc, x, c[i]);
    }
    acc
}

/// Evaluates the same polynomial as [`horner`] split into its even and odd
/// coefficients, `E(x^2) + x O(x^2)`, each by Horner's rule in `x^2`: as
/// many multiply-adds, but two independent chains of half the length. A
/// lane then waits on each multiply-add half as long, which is what limits
/// AVX2 (16 registers: few vectors in flight; 15% faster there), at no cost
/// with AVX-512. (Estrin's scheme, shorter still, costs the extra powers of
/// `x`: faster with AVX2, 6% slower with AVX-512.) Rounds differently from
/// Horner's rule; the terms it is used for are small corrections.
#[inline(always)]
fn even_odd<M: Mode, const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    const { assert!(N >= 2, "a polynomial with an odd coefficient") };
    let x2 = x * x;
    let top = (N - 1) & !1; // the highest even index
    let mut even = c[top];
    let mut i = top;
    while i >= 2 {
        i -= 2;
        even = mla::<M>(even, x2, c[i]);
    }
    let top = if N.is_multiple_of(2) { N - 1 } else { N - 2 }; // the highest odd index
    let mut odd = c[top];
    let mut i = top;
    while i >= 3 {
        i -= 2;
        odd = mla::<M>(odd, x2, c[i]);
    }
    mla::<M>(odd, x, even)
}

/// Range reduction of `e^x` for `|x| < 708`: returns `(h, r, m)` with
/// `e^x = h (1 + r + m)` to about 0.01 ulp, where `h = 2^(i/32)` is a double
/// (`i = round(32 x / ln 2)`, `h` normal), `r = x - i ln2/32` (`|r| < 0.011`)
/// and `m` is the small rest of `expm1(r)` plus the table's tail.
#[inline(always)]
fn exp_reduce<M: Mode>(x: f64) -> (f64, f64, f64) {
    let z = mla::<M>(x, INV_LN2_32, SHIFT);
    let bits = z.to_bits(); // low bits: i = 32k + j in two's complement
    let i = z - SHIFT;
    // Cody-Waite: i * LN2_32_HI is exact and close to x, so `hi` is exact.
    let r = mla::<M>(-i, LN2_32_LO, mla::<M>(-i, LN2_32_HI, x));
    let j = (bits & 31) as usize;
    let h = f64::from_bits(EXP_SBITS[j].wrapping_add(bits << 47));
    let q = horner::<M, 6>(r, &EXPM1_Q);
    // (1 + tail)(1 + expm1 r) = 1 + r + (r^2 q + tail (1 + r)).
    let tail = EXP_TAIL[j];
    let m = mla::<M>(r * r, q, mla::<M>(tail, r, tail));
    (h, r, m)
}

/// Taylor coefficients `1/n!` for n = 3..=14: `e^r = 1 + r + r^2/2 + r^3
/// q(r)` on `|r| <= ln2/2`; the omitted `r^15/15!` is below 1.1e-19.
const EXP_Q3: [f64; 12] = [
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
    1.0 / 87178291200.0,
];
/// `1 / ln 2`.
const INV_LN2: f64 = std::f64::consts::LOG2_E;

/// Table-free range reduction of `e^x` for `|x| < 708`, the one every
/// instruction set with FMA runs (AVX2 and AVX-512 alike, so that results do
/// not depend on the CPU): `e^x = h (1 + r + half + rest)` with `h = 2^k`
/// (`k = round(x / ln 2)`, `h` normal), `r` the reduced argument rounded
/// (`|r| <= 0.347`), `half = r^2/2` rounded and `rest` everything smaller:
/// the rounding errors of `r` and `r^2`, and `r^3 q(r)`. Tables would need
/// gathers, which AVX2 does not vectorise well and Zen 4 runs slowly.
#[inline(always)]
fn exp_reduce_wide<M: Mode>(x: f64) -> (f64, f64, f64, f64) {
    let z = mla::<M>(x, INV_LN2, SHIFT);
    let bits = z.to_bits(); // low bits: k in two's complement
    let k = z - SHIFT;
    // Cody-Waite: x - k LN2_HI is exact for |k| < 2^20; subtracting k LN2_LO
    // rounds, and Fast2Sum (|hi| >= |k LN2_LO|) recovers what was lost.
    let hi = mla::<M>(-k, LN2_HI, x);
    let klo = k * LN2_LO;
    let r = hi - klo;
    let r_lo = (hi - r) - klo;
    // 2^k for |k| <= 1021 (|x| < 708): k + 1023 in the exponent field.
    let h = f64::from_bits(bits.wrapping_add(1023) << 52);
    let r2 = r * r;
    let r2_err = if M::FMA { mla::<M>(r, r, -r2) } else { 0.0 };
    // e^(r + r_lo) = e^r (1 + r_lo) ~ e^r + r_lo (1 + r).
    let rest = mla::<M>(
        r2 * r,
        even_odd::<M, 12>(r, &EXP_Q3),
        mla::<M>(r_lo, r, r_lo) + 0.5 * r2_err,
    );
    (h, r, 0.5 * r2, rest)
}

/// `e^x` for `|x| < 708` (normal, finite results).
#[inline(always)]
fn exp_lane<M: Mode>(x: f64) -> f64 {
    if M::TABLES {
        let (h, r, m) = exp_reduce::<M>(x);
        return mla::<M>(h, r + m, h);
    }
    // 1 + r + half exactly as s2 + (e + e2) (Fast2Sums: 1 > |r|, and s >=
    // 0.65 > half), so that only the final addition rounds a large term:
    // within about 0.52 ulp, nearly always the correctly rounded value.
    let (h, r, half, rest) = exp_reduce_wide::<M>(x);
    let s = 1.0 + r;
    let e = (1.0 - s) + r;
    let s2 = s + half;
    let e2 = (s - s2) + half;
    // h is a power of two and the result normal: the product is exact.
    h * (s2 + ((e + e2) + rest))
}

/// `e^x` for `|x| < 708` within about 0.63 ulp: [`exp_lane`] without the
/// exact sums (`1 + r + r^2 q(r)` rounds `r + r^2 q(r)` once), about a third
/// fewer operations. For callers that damp the error of `e^x`, such as
/// `tanh(a) = 1 - 2w/(1 + w)` with `w = e^-2a <= 0.083`, where an error of
/// `e` in `w` moves the result by at most `0.14 e`.
#[inline(always)]
fn exp_lane_damped<M: Mode>(x: f64) -> f64 {
    if M::TABLES {
        return exp_lane::<M>(x);
    }
    let z = mla::<M>(x, INV_LN2, SHIFT);
    let bits = z.to_bits(); // low bits: k in two's complement
    let k = z - SHIFT;
    let r = mla::<M>(-k, LN2_LO, mla::<M>(-k, LN2_HI, x));
    let h = f64::from_bits(bits.wrapping_add(1023) << 52);
    let m = r * r * mla::<M>(r, even_odd::<M, 12>(r, &EXP_Q3), 0.5);
    mla::<M>(h, r + m, h)
}

/// `e^x = h (1 + r + m)` with `h` a normal double and `m` small, from the
/// reduction this mode uses.
#[inline(always)]
fn exp_parts<M: Mode>(x: f64) -> (f64, f64, f64) {
    if M::TABLES {
        exp_reduce::<M>(x)
    } else {
        let (h, r, half, rest) = exp_reduce_wide::<M>(x);
        (h, r, half + rest)
    }
}

/// `e^x - 1 = hi + lo` (unrounded sum, `|lo|` tiny) for `|x| < 708`.
#[inline(always)]
fn expm1_parts<M: Mode>(x: f64) -> (f64, f64) {
    let (h, r, m) = exp_parts::<M>(x);
    // h (1 + r + m) - 1 = (h - 1) + h r + h m. The result can be much smaller
    // than h, so the big terms are added exactly (TwoSum, and with FMA an
    // exact product) and all rounding errors join the small term.
    let a = h - 1.0;
    let bb = a - h;
    let ea = (h - (a - bb)) + (-1.0 - bb);
    let b = h * r;
    let eb = if M::FMA { mla::<M>(h, r, -b) } else { 0.0 };
    let sum = a + b;
    let bb = sum - a;
    let es = (a - (sum - bb)) + (b - bb);
    (sum, mla::<M>(h, m, (ea + eb) + es))
}

/// `e^x - 1` for `|x| < 708`, except that it returns +0 for -0.
#[inline(always)]
fn expm1_core<M: Mode>(x: f64) -> f64 {
    let (hi, lo) = expm1_parts::<M>(x);
    hi + lo
}

/// `ln x` for positive normal finite `x` (< 1 ulp), division-free:
/// `ln x = k ln2 + ln c + ln(1 + r)` with `x = 2^k z`, `1/c = invc` from the
/// table and `r = z invc - 1` exact.
#[inline(always)]
fn log_lane<M: Mode>(x: f64) -> f64 {
    let bits = x.to_bits();
    // For positive normal x, `t >> 52` is the biased exponent k + 1022 of
    // x = 2^k z, and bits 45..52 of t index the subinterval of z.
    let t = bits.wrapping_sub(LOG_OFF_M);
    let i = ((t >> 45) & 127) as usize;
    let kd = f64::from_bits((t >> 52) | 0x4330_0000_0000_0000) - (4503599627370496.0 + 1022.0);
    // z = x 2^-k: the mantissa bits of t on top of z's exponent field.
    let iz = (t & !EXP_MASK) + (0x3fe0_0000_0000_0000 + LOG_OFF_M);
    let z = f64::from_bits(iz);
    let ent = LOG_TAB[i];
    let invc = f64::from_bits(((ent << 45) & (0xff << 45)) | 0x3fe0_0000_0000_0000);
    let logc_hi = f64::from_bits(ent & !0xff);
    // r = z invc - 1 is representable (see LOG_TAB): one FMA is exact.
    // Without FMA, the 45-bit head of z times the 8-bit invc is exact, minus
    // 1 is exact (Sterbenz), the 8-bit tail times invc is exact, and their
    // sum is the representable r.
    let r = if M::FMA {
        mla::<M>(z, invc, -1.0)
    } else {
        let zh = f64::from_bits(iz & HEAD_MASK);
        (zh * invc - 1.0) + (z - zh) * invc
    };
    // k ln2 + ln c + r = hi + lo: w is exact, and Fast2Sum gives hi + e
    // exactly (|w| >= ln2 - 0.37 > |r| for k != 0; |logc_hi| > |r| or
    // w = 0 for k = 0), so only the final addition rounds a large term.
    let w = mla::<M>(kd, LN2_HI, logc_hi);
    let hi = w + r;
    let e = (w - hi) + r;
    let lo = mla::<M>(kd, LN2_LO, LOG_LOGC_LO[i] + e);
    hi + mla::<M>(r * r, horner::<M, 7>(r, &LOG1P_Q), lo)
}

/// `ln(1 + x)` for `-1 < x < inf`.
#[inline(always)]
fn log1p_lane<M: Mode>(x: f64) -> f64 {
    let u = 1.0 + x;
    // TwoSum: u + err == 1 + x exactly, and ln(u + err) = ln u + err/u.
    let bv = u - 1.0;
    let err = (1.0 - (u - bv)) + (x - bv);
    let y = log_lane::<M>(u) + err / u;
    if x == 0.0 {
        x // keeps the sign of zero
    } else {
        y
    }
}

/// One vectorised function: a lane formula, the inputs it handles, and the
/// scalar definition used for all other inputs.
trait Kernel {
    /// Whether some inputs need the scalar fallback.
    const CHECK: bool;
    /// The vectorisable formula; only its results for `valid` inputs are kept.
    fn lane<M: Mode>(x: f64) -> f64;
    /// Whether `lane` is accurate for `x` (false for NaN).
    fn valid(x: f64) -> bool;
    /// The scalar definition, for inputs that are not `valid`.
    fn fallback(x: f64) -> f64;
    /// Whether the kernel has a cheaper formula for part of its domain
    /// ([`Kernel::narrow`], [`Kernel::narrow_lane`]).
    const NARROW: bool = false;
    /// Whether `x` lies where [`Kernel::narrow_lane`] applies (false for NaN).
    #[inline(always)]
    fn narrow(_x: f64) -> bool {
        false
    }
    /// `lane(x)` for `x` where `narrow(x)`: the same bits with the work of
    /// the other branches left out (a branch-free lane computes every branch
    /// and selects).
    #[inline(always)]
    fn narrow_lane<M: Mode>(x: f64) -> f64 {
        Self::lane::<M>(x)
    }
}

struct Exp;
impl Kernel for Exp {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        exp_lane::<M>(x)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        x.abs() < 708.0
    }
    fn fallback(x: f64) -> f64 {
        x.exp()
    }
}

struct Expm1;
impl Kernel for Expm1 {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        expm1_core::<M>(x)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        // Zero goes to libm for the sign of -0.
        x.abs() < 708.0 && x != 0.0
    }
    fn fallback(x: f64) -> f64 {
        x.exp_m1()
    }
}

struct Log;
impl Kernel for Log {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        log_lane::<M>(x)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        (f64::MIN_POSITIVE..f64::INFINITY).contains(&x)
    }
    fn fallback(x: f64) -> f64 {
        x.ln()
    }
}

struct Log1p;
impl Kernel for Log1p {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        log1p_lane::<M>(x)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        x > -1.0 && x < f64::INFINITY
    }
    fn fallback(x: f64) -> f64 {
        x.ln_1p()
    }
}

/// Minimax linear approximation of `1/d` on `[1, 1.29]` (relative error 0.8%).
const RECIP_1_129: [f64; 2] = [1.7608454318321702, -0.7689281359277992];
/// Minimax quadratic approximation of `1/d` on `[1, 2]` (relative error 1.0%).
const RECIP_1_2: [f64; 3] = [2.12121700917446, -1.454550339544495, 0.32323340772719417];

/// `num / den` and a cheap approximation of `1/den` (relative error <= 1%,
/// for `den` in the range `init` was fitted on), used for first-order
/// corrections. (Newton iterations from it were tried in place of the
/// division: faster alone, but slower in these kernels, where the divider
/// runs in parallel with the FMA units.)
#[inline(always)]
fn div_in_range<M: Mode, const N: usize>(num: f64, den: f64, init: &[f64; N]) -> (f64, f64) {
    (num / den, horner::<M, N>(den, init))
}

/// Below this `tanh` uses the rational approximation, above it `e^-2|x|`.
/// A network's pre-activations mostly lie below it, where the rational
/// branch alone runs (see [`Tanh::narrow_lane`]): the benches MLP's stay
/// within 1.16 over its 200 steps (within 0.625, 8% of its 16-element
/// chunks did by the last step).
const TANH_SPLIT: f64 = 1.25;
/// `tanh(x) = x + x z P(z)/Q(z)`, `z = x^2`, `|x| <= 1.25`: a minimax fit of
/// `(tanh x - x)/x^3` in relative error (below `2^-63` before rounding the
/// coefficients; `tensor/tools/fit_tanh.py` fits it), with `Q(z)` in
/// `[1, 1.81]`. Against 40-60-digit values, with FMA: at most 0.82 ulp
/// below 0.625 (Cephes' degree-2/3 fit used there before: 0.86) and 1.33
/// ulp up to 1.25, where the exponential branch it replaces reached 1.13
/// (as many results correctly rounded: 81% against 82.5% there, 98.1%
/// against 97.4% below 0.625); without FMA (the portable code) 1.55 ulp.
/// The term `x z P/Q` is at most 0.48 of the result, so its rounding
/// errors are damped. Coefficients in increasing powers of `z`.
const TANH_P: [f64; 4] = [
    -0.3333333333333333,
    -0.023504623866493362,
    -0.0003719595267450863,
    -1.2621038780944351e-06,
];
const TANH_Q: [f64; 5] = [
    1.0,
    0.47051387159948005,
    0.02741666531526551,
    0.00040048169200382946,
    1.2905801469324966e-06,
];

/// The numerator and denominator of `P(z)/Q(z)` (see [`TANH_P`]), shared by
/// [`Tanh`]'s full and narrow lanes so that they give the same bits.
#[inline(always)]
fn tanh_ratio<M: Mode>(z: f64) -> (f64, f64) {
    (
        horner::<M, { TANH_P.len() }>(z, &TANH_P),
        horner::<M, { TANH_Q.len() }>(z, &TANH_Q),
    )
}

struct Tanh;
impl Kernel for Tanh {
    const CHECK: bool = false;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        let a = x.abs();
        // tanh(20) rounds to 1, and clamping keeps e^-2a normal (NaN passes).
        let a = if a > 20.0 { 20.0 } else { a };
        let small = a < TANH_SPLIT;
        let z = a * a;
        // Above the split: tanh a = 1 - 2w/(1 + w), w = e^-2a <= 0.083.
        let w = exp_lane_damped::<M>(-2.0 * a);
        let den_l = 1.0 + w;
        // 1 + w = den_l + err_l exactly.
        let err_l = (1.0 - den_l) + w;
        // One division for both branches (the reciprocal estimate is for
        // den_l in [1, 1.083]; the rational branch does not use it).
        let (p, q) = tanh_ratio::<M>(z);
        let num = if small { p } else { w + w };
        let den = if small { q } else { den_l };
        let (q, inv) = div_in_range::<M, 2>(num, den, &RECIP_1_129);
        let y = if small {
            mla::<M>(a * z, q, a)
        } else {
            // num / (den + err) = q - q err / den.
            1.0 - mla::<M>(-q * inv, err_l, q)
        };
        y.copysign(x)
    }
    fn valid(_: f64) -> bool {
        true
    }
    fn fallback(x: f64) -> f64 {
        x.tanh()
    }
    const NARROW: bool = true;
    #[inline(always)]
    fn narrow(x: f64) -> bool {
        x.abs() < TANH_SPLIT
    }
    /// The rational branch of `lane` alone (an MLP's pre-activations mostly
    /// lie below the split: there this is 2-3x faster).
    #[inline(always)]
    fn narrow_lane<M: Mode>(x: f64) -> f64 {
        let a = x.abs();
        let z = a * a;
        let (p, q) = tanh_ratio::<M>(z);
        let (q, _) = div_in_range::<M, 2>(p, q, &RECIP_1_129);
        mla::<M>(a * z, q, a).copysign(x)
    }
}

struct Sigmoid;
impl Kernel for Sigmoid {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        // e^-|x| never overflows: 1/(1+e) for x >= 0, e/(1+e) below.
        let e = exp_lane::<M>(-x.abs());
        let num = if x >= 0.0 { 1.0 } else { e };
        let den = 1.0 + e;
        let err = (1.0 - den) + e; // 1 + e = den + err exactly
        let (q, inv) = div_in_range::<M, 3>(num, den, &RECIP_1_2);
        mla::<M>(-q * inv, err, q)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        x.abs() < 708.0
    }
    fn fallback(x: f64) -> f64 {
        sigmoid(x)
    }
}

struct Softplus;
impl Kernel for Softplus {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        // max(x, 0) + ln(1 + e^-|x|), with e^-|x| in (0, 1].
        let l = log1p_lane::<M>(exp_lane::<M>(-x.abs()));
        (if x > 0.0 { x } else { 0.0 }) + l
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        x.abs() < 708.0
    }
    fn fallback(x: f64) -> f64 {
        softplus(x)
    }
}

/// Lanes per test of [`Kernel::narrow`]: two AVX-512 vectors, so that one
/// wide input costs the full formula for few neighbours.
const NARROW_CHUNK: usize = 16;

/// `d[i] = lane(s[i])`, taking [`Kernel::narrow_lane`] for each chunk of
/// [`NARROW_CHUNK`] inputs that are all narrow.
#[inline(always)]
fn lanes<M: Mode, K: Kernel>(s: &[f64], d: &mut [MaybeUninit<f64>]) {
    let len = s.len().min(d.len());
    let (s, d) = (&s[..len], &mut d[..len]);
    if !K::NARROW {
        for (o, &x) in d.iter_mut().zip(s) {
            o.write(K::lane::<M>(x));
        }
        return;
    }
    let mut sc = s.chunks_exact(NARROW_CHUNK);
    let mut dc = d.chunks_exact_mut(NARROW_CHUNK);
    for (s, d) in (&mut sc).zip(&mut dc) {
        let mut narrow = true;
        for &x in s {
            narrow &= K::narrow(x);
        }
        if narrow {
            for (o, &x) in d.iter_mut().zip(s) {
                o.write(K::narrow_lane::<M>(x));
            }
        } else {
            for (o, &x) in d.iter_mut().zip(s) {
                o.write(K::lane::<M>(x));
            }
        }
    }
    for (o, &x) in dc.into_remainder().iter_mut().zip(sc.remainder()) {
        o.write(K::lane::<M>(x));
    }
}

/// `buf[i] = lane(buf[i])`, as [`lanes`].
#[inline(always)]
fn lanes_inplace<M: Mode, K: Kernel>(buf: &mut [f64]) {
    if !K::NARROW {
        for x in buf.iter_mut() {
            *x = K::lane::<M>(*x);
        }
        return;
    }
    let mut chunks = buf.chunks_exact_mut(NARROW_CHUNK);
    for d in &mut chunks {
        let mut narrow = true;
        for &x in d.iter() {
            narrow &= K::narrow(x);
        }
        if narrow {
            for x in d.iter_mut() {
                *x = K::narrow_lane::<M>(*x);
            }
        } else {
            for x in d.iter_mut() {
                *x = K::lane::<M>(*x);
            }
        }
    }
    for x in chunks.into_remainder() {
        *x = K::lane::<M>(*x);
    }
}

/// `d[i] = K(s[i])` for one block (`s.len() == d.len() <= BLOCK`); every
/// element of `d` is written.
#[inline(always)]
fn block<M: Mode, K: Kernel>(s: &[f64], d: &mut [MaybeUninit<f64>]) {
    lanes::<M, K>(s, d);
    if K::CHECK {
        let mut bad = false;
        for &x in s {
            bad |= !K::valid(x);
        }
        if bad {
            for (o, &x) in d.iter_mut().zip(s) {
                if !K::valid(x) {
                    o.write(K::fallback(x));
                }
            }
        }
    }
}

#[inline(always)]
fn run<M: Mode, K: Kernel>(src: &[f64], dst: &mut [MaybeUninit<f64>]) {
    for (s, d) in src.chunks(BLOCK).zip(dst.chunks_mut(BLOCK)) {
        block::<M, K>(s, d);
    }
}

#[inline(always)]
fn run_inplace<M: Mode, K: Kernel>(buf: &mut [f64]) {
    let mut tmp = [0.0f64; BLOCK];
    for d in buf.chunks_mut(BLOCK) {
        let mut bad = false;
        if K::CHECK {
            for &x in d.iter() {
                bad |= !K::valid(x);
            }
        }
        if bad {
            // The fallback needs the original inputs: work from a copy.
            let s = &mut tmp[..d.len()];
            s.copy_from_slice(d);
            // SAFETY: f64 and MaybeUninit<f64> have the same layout, and only
            // initialised values are written.
            let d = unsafe { &mut *(d as *mut [f64] as *mut [MaybeUninit<f64>]) };
            block::<M, K>(s, d);
        } else {
            lanes_inplace::<M, K>(d);
        }
    }
}

/// Whether [`map`] and [`map_inplace`] implement `op`.
pub(crate) fn supports(op: UnaryOp) -> bool {
    matches!(
        op,
        UnaryOp::Exp
            | UnaryOp::Expm1
            | UnaryOp::Log
            | UnaryOp::Log1p
            | UnaryOp::Tanh
            | UnaryOp::Sigmoid
            | UnaryOp::Softplus
    )
}

#[inline(always)]
fn map_impl<M: Mode>(op: UnaryOp, src: &[f64], dst: &mut [MaybeUninit<f64>]) {
    match op {
        UnaryOp::Exp => run::<M, Exp>(src, dst),
        UnaryOp::Expm1 => run::<M, Expm1>(src, dst),
        UnaryOp::Log => run::<M, Log>(src, dst),
        UnaryOp::Log1p => run::<M, Log1p>(src, dst),
        UnaryOp::Tanh => run::<M, Tanh>(src, dst),
        UnaryOp::Sigmoid => run::<M, Sigmoid>(src, dst),
        UnaryOp::Softplus => run::<M, Softplus>(src, dst),
        _ => {
            for (o, &x) in dst.iter_mut().zip(src) {
                o.write(op.apply(x));
            }
        }
    }
}

#[inline(always)]
fn map_inplace_impl<M: Mode>(op: UnaryOp, buf: &mut [f64]) {
    match op {
        UnaryOp::Exp => run_inplace::<M, Exp>(buf),
        UnaryOp::Expm1 => run_inplace::<M, Expm1>(buf),
        UnaryOp::Log => run_inplace::<M, Log>(buf),
        UnaryOp::Log1p => run_inplace::<M, Log1p>(buf),
        UnaryOp::Tanh => run_inplace::<M, Tanh>(buf),
        UnaryOp::Sigmoid => run_inplace::<M, Sigmoid>(buf),
        UnaryOp::Softplus => run_inplace::<M, Softplus>(buf),
        _ => {
            for x in buf.iter_mut() {
                *x = op.apply(*x);
            }
        }
    }
}

multiversion!(
    /// Writes `dst[i] = op(src[i])` for `i < min(src.len(), dst.len())`
    /// (vectorised for the ops of [`supports`], scalar otherwise).
    pub(crate) fn map_uninit(op: UnaryOp, src: &[f64], dst: &mut [MaybeUninit<f64>]) => map_impl
);

/// `op` applied to every element of `src`, into a new vector (vectorised for
/// the ops of [`supports`], scalar otherwise); a large `src` is shared with
/// the helper thread in pieces (each element is computed by the same
/// formula either way, so the bits do not depend on the thread count).
pub(crate) fn map(op: UnaryOp, src: &[f64]) -> Vec<f64> {
    let mut out = crate::buffer::with_capacity(src.len());
    let dst = &mut out.spare_capacity_mut()[..src.len()];
    crate::pool::split_mut(dst, crate::pool::split_min::COSTLY, |lo, d| {
        map_uninit(op, &src[lo..lo + d.len()], d);
    });
    // SAFETY: the pieces cover dst, and map_uninit wrote every element of each.
    unsafe { out.set_len(src.len()) };
    out
}

/// [`map_inplace`] over a whole buffer, shared with the helper thread in
/// pieces when it is large (as [`map`]).
pub(crate) fn map_inplace_split(op: UnaryOp, buf: &mut [f64]) {
    crate::pool::split_mut(buf, crate::pool::split_min::COSTLY, |_, d| map_inplace(op, d));
}

multiversion!(
    /// `buf[i] = op(buf[i])` (vectorised for the ops of [`supports`]).
    pub(crate) fn map_inplace(op: UnaryOp, buf: &mut [f64]) => map_inplace_impl
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::NoFma;

    /// Distance in units in the last place (0 for two NaNs; +0 and -0 are equal).
    pub(crate) fn ulps(a: f64, b: f64) -> u64 {
        if a.is_nan() && b.is_nan() {
            return 0;
        }
        let key = |v: f64| {
            let b = v.to_bits() as i64;
            if b < 0 {
                i64::MIN - b
            } else {
                b
            }
        };
        key(a).abs_diff(key(b))
    }

    /// Inputs spread over many magnitudes plus the edges of each kernel's range.
    fn inputs() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            708.0,
            -708.0,
            707.9,
            -707.9,
            709.78,
            709.79,
            710.0,
            -745.0,
            -745.2,
            -746.0,
            1e-300,
            -1e-300,
            5e-324,
            -5e-324,
            2.2e-308,
            0.34657359027997264,
            -0.34657359027997264,
            0.3466,
            0.35,
            TANH_SPLIT,
            20.0,
            -20.0,
            19.0,
            1e-8,
            -1e-8,
            0.9999999999999999,
            -0.9999999999999999,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            -1.0 + 1e-16,
            -2.0,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..6000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let mag = 10f64.powf(u * 8.0 - 5.5); // 3e-6 .. 3e2
            let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
            v.push(sign * mag);
            v.push(sign * u * 1420.0 - 710.0 * sign);
        }
        v
    }

    fn check(op: UnaryOp, reference: fn(f64) -> f64, max_ulps: u64) {
        let xs = inputs();
        let generic = run_generic(op, &xs);
        let best = map(op, &xs);
        // The AVX2 and AVX-512 instantiations where the CPU has them.
        let avx2 = run_avx2(op, &xs).unwrap_or_else(|| best.clone());
        let v4 = run_avx512(op, &xs).unwrap_or_else(|| best.clone());
        for (i, &x) in xs.iter().enumerate() {
            let want = reference(x);
            for got in [generic[i], best[i], avx2[i], v4[i]] {
                assert!(
                    ulps(got, want) <= max_ulps,
                    "{}({:e}) = {:e}, want {:e} ({} ulp)",
                    op.name(),
                    x,
                    got,
                    want,
                    ulps(got, want)
                );
                if want == 0.0 {
                    assert_eq!(got.to_bits(), want.to_bits(), "sign of zero: {}({:e})", op.name(), x);
                }
            }
        }
    }

    /// `map` through the AVX-512 instantiation, if this CPU can run it.
    fn run_avx512(op: UnaryOp, src: &[f64]) -> Option<Vec<f64>> {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
            unsafe fn v4(op: UnaryOp, src: &[f64], dst: &mut [MaybeUninit<f64>]) {
                map_impl::<crate::simd::WithFma>(op, src, dst)
            }
            if crate::simd::probe_cpu() == crate::simd::Isa::Avx512 {
                let mut out = vec![MaybeUninit::new(0.0); src.len()];
                // SAFETY: the CPU supports AVX-512F/DQ, AVX2 and FMA.
                unsafe { v4(op, src, &mut out) };
                // SAFETY: every element was initialised above.
                return Some(out.iter().map(|v| unsafe { v.assume_init() }).collect());
            }
        }
        let _ = (op, src);
        None
    }

    /// `map` through the AVX2+FMA instantiation, if this CPU can run it.
    fn run_avx2(op: UnaryOp, src: &[f64]) -> Option<Vec<f64>> {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn v3(op: UnaryOp, src: &[f64], dst: &mut [MaybeUninit<f64>]) {
                map_impl::<crate::simd::WithFma>(op, src, dst)
            }
            if crate::simd::probe_cpu() != crate::simd::Isa::Generic {
                let mut out = vec![MaybeUninit::new(0.0); src.len()];
                // SAFETY: the CPU supports AVX2 and FMA.
                unsafe { v3(op, src, &mut out) };
                return Some(out.iter().map(|v| unsafe { v.assume_init() }).collect());
            }
        }
        let _ = (op, src);
        None
    }

    #[test]
    fn wide_exp_dense_in_its_reduction_range() {
        // The table-free reduction's worst region: |r| near ln2/2, on a
        // fine grid over several binades, and near 0 for expm1.
        let mut xs: Vec<f64> = (0..200_000).map(|j| -40.0 + 80.0 * j as f64 / 200_000.0).collect();
        xs.extend((1..20_000).map(|j| j as f64 * 1e-9));
        xs.extend((1..20_000).map(|j| -(j as f64) * 3e-6));
        for (op, reference) in [
            (UnaryOp::Exp, f64::exp as fn(f64) -> f64),
            (UnaryOp::Expm1, f64::exp_m1),
        ] {
            // Both wide instantiations: AVX2 (4 lanes) and AVX-512 (8).
            for got in [run_avx2(op, &xs), run_avx512(op, &xs)].into_iter().flatten() {
                for (x, g) in xs.iter().zip(&got) {
                    let want = reference(*x);
                    assert!(ulps(*g, want) <= 1, "{}({x:e}) = {g:e}, want {want:e}", op.name());
                }
            }
        }
    }

    /// A program prints the same digits on every x86-64 CPU with FMA: the
    /// AVX2 and AVX-512 instantiations agree to the bit on every input.
    #[test]
    fn avx2_and_avx512_give_the_same_bits() {
        let mut xs = inputs();
        xs.extend((0..100_000).map(|j| -30.0 + 60.0 * j as f64 / 100_000.0));
        for &op in &[
            UnaryOp::Exp,
            UnaryOp::Expm1,
            UnaryOp::Log,
            UnaryOp::Log1p,
            UnaryOp::Tanh,
            UnaryOp::Sigmoid,
            UnaryOp::Softplus,
        ] {
            let (Some(a), Some(b)) = (run_avx2(op, &xs), run_avx512(op, &xs)) else {
                return;
            };
            for ((x, a), b) in xs.iter().zip(&a).zip(&b) {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{}({x:e}): AVX2 {a:e}, AVX-512 {b:e}",
                    op.name()
                );
            }
        }
    }

    /// Chunks whose inputs all lie below tanh's split take the rational
    /// branch alone; every input must get the bits the full branch-free
    /// formula gives it (computed here one element at a time, which the
    /// chunked path never sees), in place too, on every instruction set.
    #[test]
    fn narrow_chunks_give_the_full_formulas_bits() {
        // Every narrow input and a little beyond the split on both sides.
        let mut xs: Vec<f64> = (0..60_000).map(|j| -1.3 + 2.6 * j as f64 / 60_000.0).collect();
        let below_split = f64::from_bits(TANH_SPLIT.to_bits() - 1);
        xs.extend([
            TANH_SPLIT,
            -TANH_SPLIT,
            0.0,
            -0.0,
            1e-300,
            f64::NAN,
            below_split,
            -below_split,
        ]);
        let op = UnaryOp::Tanh;
        let best = |xs: &[f64]| Some(map(op, xs));
        let avx2 = |xs: &[f64]| run_avx2(op, xs);
        let v4 = |xs: &[f64]| run_avx512(op, xs);
        let generic = |xs: &[f64]| Some(run_generic(op, xs));
        let in_place = |xs: &[f64]| {
            let mut v = xs.to_vec();
            map_inplace(op, &mut v);
            Some(v)
        };
        type Run<'a> = &'a dyn Fn(&[f64]) -> Option<Vec<f64>>;
        let runs: [Run<'_>; 5] = [&best, &avx2, &v4, &generic, &in_place];
        for run in runs {
            let Some(got) = run(&xs) else { continue };
            for (x, g) in xs.iter().zip(&got) {
                // One element alone never forms a chunk: the full formula.
                let want = run(&[*x]).map_or(f64::NAN, |v| v[0]);
                assert_eq!(
                    g.to_bits(),
                    want.to_bits(),
                    "tanh({x:e}): chunked {g:e}, alone {want:e}"
                );
            }
        }
    }

    /// The table-free `exp` rounds nearly always correctly: on a dense grid
    /// it agrees with libm (itself < 1 ulp) on all but a sliver of inputs,
    /// and it gives the correctly rounded `e` (`exp(1)` prints as Python's).
    #[test]
    fn wide_exp_is_nearly_correctly_rounded() {
        let xs: Vec<f64> = (0..200_000).map(|j| -40.0 + 80.0 * j as f64 / 200_000.0).collect();
        let Some(got) = run_avx2(UnaryOp::Exp, &xs) else { return };
        let off = xs
            .iter()
            .zip(&got)
            .filter(|(x, g)| g.to_bits() != x.exp().to_bits())
            .count();
        assert!(off * 200 < xs.len(), "{off} of {} differ from libm", xs.len());
        let e = run_avx2(UnaryOp::Exp, &[1.0]).unwrap_or_default();
        assert_eq!(e, [std::f64::consts::E]);
    }

    fn run_generic(op: UnaryOp, src: &[f64]) -> Vec<f64> {
        let mut out = vec![MaybeUninit::new(0.0); src.len()];
        map_impl::<NoFma>(op, src, &mut out);
        out.iter().map(|v| unsafe { v.assume_init() }).collect()
    }

    #[test]
    fn exp_matches_libm() {
        check(UnaryOp::Exp, f64::exp, 1);
    }

    #[test]
    fn expm1_matches_libm() {
        check(UnaryOp::Expm1, f64::exp_m1, 1);
    }

    #[test]
    fn log_matches_libm() {
        check(UnaryOp::Log, f64::ln, 1);
        let pos: Vec<f64> = inputs().iter().map(|x| x.abs()).collect();
        let out = map(UnaryOp::Log, &pos);
        for (x, y) in pos.iter().zip(&out) {
            assert!(ulps(*y, x.ln()) <= 1, "log({x:e})");
        }
    }

    /// Checks the vectorised (best ISA) and portable `log` against libm
    /// (<= 1 ulp) and returns the largest distance seen.
    fn log_max_ulps(xs: &[f64]) -> u64 {
        let generic = run_generic(UnaryOp::Log, xs);
        let best = map(UnaryOp::Log, xs);
        let mut worst = 0;
        for (i, &x) in xs.iter().enumerate() {
            let want = x.ln();
            for got in [generic[i], best[i]] {
                let d = ulps(got, want);
                assert!(d <= 1, "log({x:e}) = {got:e}, want {want:e} ({d} ulp)");
                worst = worst.max(d);
            }
        }
        worst
    }

    #[test]
    fn log_dense_near_one() {
        // [0.9, 1.1] on a fine grid, where ln x nearly cancels and the table's
        // subintervals around 1 (and its central one) are all crossed.
        let mut xs: Vec<f64> = (0..=400_000).map(|j| 0.9 + 0.2 * j as f64 / 400_000.0).collect();
        // The doubles next to 1, where ln x ~ x - 1 is tiny.
        for j in 1..=20_000u64 {
            xs.push(f64::from_bits(1.0f64.to_bits() + j));
            xs.push(f64::from_bits(1.0f64.to_bits() - j));
        }
        log_max_ulps(&xs);
        assert_eq!(map(UnaryOp::Log, &[1.0])[0].to_bits(), 0, "log(1) must be +0");
    }

    #[test]
    fn log_table_boundaries_powers_of_two_and_extremes() {
        let mut xs = Vec::new();
        for e in -1022..=1023 {
            let p = f64::from_bits(((e + 1023) as u64) << 52); // 2^e, exact
            for d in [-2i64, -1, 0, 1, 2] {
                xs.push(f64::from_bits(p.to_bits().wrapping_add(d as u64)));
            }
            // Both sides of every subinterval boundary of the table, scaled
            // by 2^e (exact while normal; the rest takes the libm path).
            for j in 0..=128u64 {
                let b = (0x3fe0_0000_0000_0000 + LOG_OFF_M + (j << 45)) as i64;
                for d in [-1i64, 0, 1] {
                    xs.push(f64::from_bits((b + d) as u64) * p);
                }
            }
        }
        xs.extend([
            1e-300,
            1e300,
            1e-308,
            f64::MIN_POSITIVE,
            f64::MAX,
            5e-324,
            1e-310,
            2.2250738585072e-308,
            0.0,
            -0.0,
            -1e-300,
            f64::INFINITY,
            f64::NAN,
        ]);
        log_max_ulps(&xs);
        // Special inputs go through libm and match it bit for bit.
        for x in [5e-324, 1e-310, 0.0, -0.0, -1.0, f64::INFINITY, f64::NEG_INFINITY] {
            let got = map(UnaryOp::Log, &[x])[0];
            assert!(got.to_bits() == x.ln().to_bits() || (got.is_nan() && x.ln().is_nan()));
        }
    }

    #[test]
    fn log1p_matches_libm() {
        check(UnaryOp::Log1p, f64::ln_1p, 1);
    }

    #[test]
    fn tanh_matches_libm() {
        check(UnaryOp::Tanh, f64::tanh, 2);
    }

    #[test]
    fn sigmoid_and_softplus_match_scalar() {
        check(UnaryOp::Sigmoid, sigmoid, 2);
        check(UnaryOp::Softplus, softplus, 2);
    }

    #[test]
    fn inplace_equals_out_of_place() {
        let xs = inputs();
        for op in UnaryOp::ALL {
            let a = map(op, &xs);
            let mut b = xs.clone();
            map_inplace(op, &mut b);
            for (p, q) in a.iter().zip(&b) {
                assert!(
                    p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()),
                    "{}",
                    op.name()
                );
            }
        }
    }
}
