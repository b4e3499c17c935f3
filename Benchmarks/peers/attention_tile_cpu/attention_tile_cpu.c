/*
 * attention_tile_cpu.c — one-thread CPU time (CLOCK_THREAD_CPUTIME_ID, best of R) of the C tile run
 * kestrel_attention_f32 over B = 1, H = 8 heads split into query blocks as FlashAttention splits them,
 * for measurements on machines too loaded for wall time. Usage: D N causal [R [block_q block_k]];
 * without tiles, the pre-2026-12-03-evening rule for a 32 KiB L1d / 512 KiB L2. Build: see run.sh.
 */
#define _POSIX_C_SOURCE 200809L
/* throwaway: one-thread CPU time of kestrel_attention_f32 over H heads, FlashAttention's task split */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include "kestrel_attention.h"
static double cpu_ms(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec*1e3+t.tv_nsec*1e-6;}
int main(int argc,char**argv){
  size_t D=atoi(argv[1]),N=atoi(argv[2]);int causal=atoi(argv[3]);int reps=argc>4?atoi(argv[4]):3;
  size_t bq=argc>5?atoi(argv[5]):0,bk=argc>6?atoi(argv[6]):0; size_t H=8;
  if(!bq){ /* the Swift rule, L1 32K L2 512K */
    size_t l1=32<<10,l2=512<<10,dd=D,third=l1/3/4; bq=third/dd/16*16; if(bq<16)bq=16; if(bq>128)bq=128;
    bk=third/bq/16*16; if(bk<32)bk=32; if(bk>512)bk=512; while(bk>32&&2*bk*dd*4>l2/2)bk-=16;}
  float*q=malloc(H*N*D*4),*k=malloc(H*N*D*4),*v=malloc(H*N*D*4),*o=malloc(H*N*D*4),*l=malloc(H*N*4);
  srand(17);for(size_t i=0;i<H*N*D;i++){q[i]=rand()/(float)RAND_MAX*2-1;k[i]=rand()/(float)RAND_MAX*2-1;v[i]=rand()/(float)RAND_MAX*2-1;}
  float*sc=aligned_alloc(64,(kestrel_attention_scratch_floats(bq,bk,D)*4+63)/64*64);
  double best=1e30;
  for(int rep=0;rep<reps;rep++){double t0=cpu_ms();
    for(size_t h=0;h<H;h++)for(size_t i0=0;i0<N;i0+=bq){kestrel_attention_args a;memset(&a,0,sizeof a);
      size_t rows=N-i0<bq?N-i0:bq;a.nq=rows;a.nk=N;a.d=D;a.q=q+(h*N+i0)*D;a.q_stride=D;a.k=k+h*N*D;a.v=v+h*N*D;a.k_stride=a.v_stride=D;
      a.o=o+(h*N+i0)*D;a.o_stride=D;a.lse=l+h*N+i0;a.scale=1/sqrtf(D);a.causal=causal;a.diag=i0;a.window_left=-1;a.kv_len=N;a.block_q=bq;a.block_k=bk;a.scratch=sc;
      if(kestrel_attention_f32(&a)){printf("err\n");return 1;}}
    double t=cpu_ms()-t0;if(t<best)best=t;}
  double fl=4.0*H*N*N*D*(causal?0.5:1);
  double cs=0;for(size_t i=0;i<H*N*D;i++)cs+=o[i];
  printf("D=%zu N=%zu causal=%d blocks %zux%zu: %.1f ms cpu (%.1f GFLOP/s) cs=%.6f\n",D,N,causal,bq,bk,best,fl/best/1e6,cs);
}
