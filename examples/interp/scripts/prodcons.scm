; prodcons.scm: threads connected by channels. Two producers make
; messages (records holding lists and strings) that a consumer thread
; receives and drops: their last references go on a thread that does not
; own them. Then a server thread calls closures it receives, each
; capturing its creator's environment.
; expect: (2 20000 199990000 consumed 338350 100)

(define work (make-channel 16))
(define results (make-channel 1))

(define (producer from to)
  (lambda ()
    (let loop ((i from))
      (when (< i to)
        (let ((msg (make-dict)))
          (dict-set! msg 'n i)
          (dict-set! msg 'payload (list i (number->string i)))
          (send! work msg))
        (loop (+ i 1))))
    (send! work 'done)
    'produced))

(define (consumer producers)
  (lambda ()
    (let loop ((left producers) (count 0) (sum 0))
      (if (= left 0)
          (send! results (list count sum))
          (let ((msg (receive work)))
            (if (eq? msg 'done)
                (loop (- left 1) count sum)
                (loop left (+ count 1) (+ sum (car (dict-ref msg 'payload))))))))
    'consumed))

(define threads
  (list (spawn (producer 0 10000)) (spawn (producer 10000 20000)) (spawn (consumer 2))))
(define totals (receive results))
(define outcomes (map join threads))
(display "consumer got ") (display totals) (newline)

(define jobs (make-channel 4))
(define answers (make-channel 4))
(define server
  (spawn (lambda ()
           (let loop ((served 0))
             (let ((job (receive jobs)))
               (if (procedure? job)
                   (begin (send! answers (job)) (loop (+ served 1)))
                   served))))))

(define (ask k)                           ; a closure over k, called by the server
  (send! jobs (lambda () (* k k)))
  (receive answers))

(define asked
  (let loop ((k 1) (sum 0))
    (if (> k 100) sum (loop (+ k 1) (+ sum (ask k))))))
(send! jobs 'stop)

(list (length (filter (lambda (x) (eq? x 'produced)) outcomes))
      (car totals)
      (list-ref totals 1)
      (list-ref outcomes 2)
      asked
      (join server))
